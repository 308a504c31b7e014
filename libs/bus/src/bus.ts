import { connect, createInbox, errors, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { z } from 'zod';
import {
  ContractError,
  ErrorBody,
  Topology,
  type Endpoint,
  type PingedService,
  type Reply,
  type StreamKey,
  type StreamMessage,
} from '@patchflow/contracts';
import { withTrace, type Logger } from '@patchflow/log';
import { BusAdmin, type NatsHandles } from './admin.js';
import { decodeWith, encodeJson } from './codec.js';
import { connectionOptions, redactNatsUrl, redactSecrets, type NatsAuth } from './connection.js';
import { answerInstancePing } from './ping.js';
import { ensureStreams, isPermissionError } from './streams.js';
import { requestTrace, withTraceHeaders } from './trace-headers.js';

/** Thrown by `Bus.connect` when no NATS server answers: one line, naming the URL and the fix. */
export class BusUnreachableError extends Error {
  override name = 'BusUnreachableError';
}

export interface BusOptions {
  /** One server or several separated by commas; credentials in the URL are honoured, never printed. */
  url: string;
  /** Who this service is to NATS (user/password, token, creds file, TLS, inbox prefix). */
  auth?: NatsAuth;
  /** Connection name shown in NATS monitoring, e.g. the service name. */
  name: string;
  namespace?: string;
  /** JetStream replicas of the streams this bus creates or updates (default 1). */
  streamReplicas?: number;
  logger: Logger;
  /** Default request timeout in ms. */
  requestTimeoutMs?: number;
  /**
   * The service this process is: it answers the instance ping (ping.ts) as that service. Only
   * services say it; tools and tests, whatever their connection name, never answer.
   */
  service?: PingedService;
}

export interface PublishResult {
  seq: number;
  duplicate: boolean;
}

const START_HINT =
  'start it with `start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log` or `docker compose up -d nats`';

let handlesOf: (bus: Bus) => NatsHandles;

/**
 * libs/bus's own modules (`consumer.ts`, `stream-publisher.ts`) reach the connection through
 * this; it is not exported from the package, so the nats.js handles stay inside libs/bus.
 */
export function natsHandles(bus: Bus): NatsHandles {
  return handlesOf(bus);
}

/**
 * The one door to NATS. Request-reply endpoints from the contracts catalog, JetStream publishing
 * and stream setup; consumers live in `consumer.ts`. Reconnects forever: a NATS restart is a
 * pause, not a crash. The nats.js handles are private: operators and tests read streams and
 * consumers through `admin`.
 */
export class Bus {
  readonly #nats: NatsHandles;
  /** Stream and consumer info, raw bytes in and out, ordered range reads: see `admin.ts`. */
  readonly admin: BusAdmin;
  private subscriptions: Subscription[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();

  static {
    handlesOf = (bus) => bus.#nats;
  }

  private constructor(
    nc: NatsConnection,
    jsm: JetStreamManager,
    readonly topology: Topology,
    readonly logger: Logger,
    private readonly requestTimeoutMs: number,
    private readonly inboxPrefix: string,
  ) {
    this.#nats = Object.freeze({ nc, jsm, js: jetstream(nc) });
    this.admin = new BusAdmin(this.#nats);
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'error' && s.error instanceof errors.PermissionViolationError) {
          // The server refused something this service tried: a bug or a config out of date.
          logger.error({ operation: s.error.operation, subject: s.error.subject }, 'NATS permission violation');
        } else if (s.type === 'disconnect' || s.type === 'staleConnection') {
          this.connected = false;
          logger.warn({ server: 'server' in s ? s.server : undefined }, 'NATS disconnected');
        } else if (s.type === 'reconnect') {
          this.connected = true;
          logger.info({ server: s.server }, 'NATS reconnected');
        }
      }
    })().catch(() => undefined);
  }

  private connected = true;

  /** False from a lost connection until the client has reconnected (and once closed). */
  get isConnected(): boolean {
    return this.connected && !this.#nats.nc.isClosed();
  }

  /**
   * Reads a stream from its first message up to the last one stored when the call began, in
   * order, with an ephemeral ordered consumer (nothing durable is created or left behind).
   * Returns how many messages it handed to `handle`.
   */
  async replay(
    stream: string,
    handle: (m: { data: Uint8Array; seq: number; subject: string }) => Promise<void>,
    onProgress?: (done: number, total: number) => void,
  ): Promise<number> {
    const info = await this.#nats.jsm.streams.info(stream);
    const lastSeq = info.state.last_seq;
    const total = info.state.messages;
    if (total === 0) {
      onProgress?.(0, 0);
      return 0;
    }
    const consumer = await this.#nats.js.consumers.get(stream);
    const messages = await consumer.consume();
    let done = 0;
    try {
      for await (const m of messages) {
        await handle({ data: m.data, seq: m.seq, subject: m.subject });
        done += 1;
        if (done % 500 === 0 || m.seq >= lastSeq) onProgress?.(done, total);
        if (m.seq >= lastSeq) break;
      }
    } finally {
      messages.stop();
    }
    return done;
  }

  static async connect(options: BusOptions): Promise<Bus> {
    const topology = new Topology(options.namespace ?? '', { replicas: options.streamReplicas ?? 1 });
    const where = redactNatsUrl(options.url);
    const clean = (err: unknown) => redactSecrets(err instanceof Error ? err.message : String(err), options.url, options.auth);
    let nc: NatsConnection;
    try {
      nc = await connect({
        ...connectionOptions(options.url, options.auth),
        name: options.name,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        timeout: 3000,
        // Without this every request builds two Error objects just to keep a stack trace —
        // measurable on the transition path; our errors are classified by type, not by trace.
        noAsyncTraces: true,
      });
    } catch (err) {
      const reason = clean(err);
      if (err instanceof errors.AuthorizationError || /authori[sz]ation/i.test(reason)) {
        throw new BusUnreachableError(
          `NATS at ${where} refused the credentials (${reason}); check NATS_USER/NATS_PASSWORD, NATS_TOKEN or NATS_CREDS`,
        );
      }
      // No `cause`: the client's error may carry the URL with its credentials.
      throw new BusUnreachableError(`NATS is not reachable at ${where} (${reason}); ${START_HINT}`);
    }
    const logger = options.logger;
    const jsm = await jetstreamManager(nc, { timeout: 5000 }).catch((err: unknown) => {
      void nc.close();
      const reason = clean(err);
      throw new BusUnreachableError(
        err instanceof errors.PermissionViolationError
          ? `NATS at ${where}: this user may not use the JetStream API (${reason}); regenerate the server config with \`npm run nats:config\``
          : `NATS at ${where} has no JetStream (${reason}); start nats-server with -js`,
      );
    });
    const bus = new Bus(nc, jsm, topology, logger, options.requestTimeoutMs ?? 5000, options.auth?.inboxPrefix ?? '_INBOX');
    if (options.service) bus.subscriptions.push(answerInstancePing(bus, options.service, options.name));
    return bus;
  }

  /** Creates or updates the streams (all by default). Safe to call from every service at start. */
  async ensureStreams(keys?: StreamKey[]): Promise<void> {
    await ensureStreams(this.#nats.jsm, this.topology, keys);
  }

  /**
   * Answers requests on an endpoint, shared with other instances in a queue group. Each request is
   * decoded and validated (a bad one gets `validation_failed` naming the fields), handled, and
   * answered with the reply envelope. A handler's ContractError becomes its error reply; anything
   * else is logged and answered `internal`. Nothing a caller sends can crash the service.
   */
  serve<E extends Endpoint>(endpoint: E, handler: (request: z.infer<E['request']>) => Promise<z.infer<E['result']>>): void {
    const subject = endpoint.subject(this.topology);
    const sub = this.#nats.nc.subscribe(subject, {
      queue: 'q',
      callback: (err, msg) => {
        if (err) {
          this.logger.error({ err, subject }, 'subscription failed');
          return;
        }
        const answer = async (): Promise<Reply<unknown>> => {
          try {
            const request = decodeWith(endpoint.request, msg.data, `${subject} request`) as z.infer<E['request']>;
            return { ok: true, result: await handler(request) };
          } catch (error) {
            return { ok: false, error: this.errorBody(error, subject) };
          }
        };
        // A request sent inside a trace is handled (and logged) inside it: see trace-headers.ts.
        const trace = requestTrace(msg.headers);
        const work = (trace ? withTrace(trace, answer) : answer()).then((reply) => {
          if (msg.reply) msg.respond(encodeJson(reply));
        });
        void this.track(work);
      },
    });
    this.subscriptions.push(sub);
  }

  private errorBody(error: unknown, subject: string): ErrorBody {
    if (error instanceof ContractError) return error.toBody();
    this.logger.error({ err: error, subject }, 'request handler failed');
    return { code: 'internal', message: 'internal error; see the service log' };
  }

  /**
   * Sends a request and returns the reply envelope. Never throws for the usual failures: a
   * timeout becomes `timeout`, nobody listening or NATS down becomes `unavailable`, a reply that
   * does not match the contract becomes `internal`.
   */
  async request<E extends Endpoint>(
    endpoint: E,
    request: z.input<E['request']>,
    options: { timeoutMs?: number } = {},
  ): Promise<Reply<z.infer<E['result']>>> {
    const subject = endpoint.subject(this.topology);
    const timeout = options.timeoutMs ?? this.requestTimeoutMs;
    let data: Uint8Array;
    try {
      const headers = withTraceHeaders();
      const msg = await this.#nats.nc.request(subject, encodeJson(request), { timeout, ...(headers ? { headers } : {}) });
      data = msg.data;
    } catch (err) {
      return { ok: false, error: requestFailure(err, subject, timeout) };
    }
    const body = decodeReply(data);
    if (!body.ok) return body;
    const parsed = endpoint.result.safeParse(body.result);
    if (!parsed.success) {
      this.logger.error({ subject, issues: parsed.error.issues }, 'reply does not match the contract');
      return { ok: false, error: { code: 'internal', message: `reply on ${subject} does not match the contract` } };
    }
    return { ok: true, result: parsed.data as z.infer<E['result']> };
  }

  /** Like `request`, but returns the result and throws the error reply as a ContractError. */
  async call<E extends Endpoint>(
    endpoint: E,
    request: z.input<E['request']>,
    options: { timeoutMs?: number } = {},
  ): Promise<z.infer<E['result']>> {
    const reply = await this.request(endpoint, request, options);
    if (reply.ok) return reply.result;
    throw new ContractError(reply.error.code, reply.error.message, reply.error.details);
  }

  /** Raw request for callers that send bytes they did not build (tests of malformed input). */
  async requestRaw(subject: string, data: Uint8Array, timeoutMs = this.requestTimeoutMs): Promise<unknown> {
    const msg = await this.#nats.nc.request(subject, data, { timeout: timeoutMs });
    return JSON.parse(new TextDecoder().decode(msg.data));
  }

  /**
   * Publishes to JetStream and waits for the stream's ack. `msgId` becomes `Nats-Msg-Id`: a repeat
   * within the stream's duplicate window is acknowledged as `duplicate` and stored once.
   */
  async publish(subject: string, value: unknown, options: { msgId?: string; timeoutMs?: number } = {}): Promise<PublishResult> {
    const headers = withTraceHeaders();
    const ack = await this.#nats.js.publish(subject, encodeJson(value), {
      ...(options.msgId ? { msgID: options.msgId } : {}),
      ...(headers ? { headers } : {}),
      timeout: options.timeoutMs ?? this.requestTimeoutMs,
    });
    return { seq: ack.seq, duplicate: ack.duplicate };
  }

  /**
   * Publishes one catalogued message (`streamMessages` in contracts): its subject and
   * `Nats-Msg-Id` come from the value, so it cannot land under another action's or workflow's
   * name, and a repeat within the duplicate window is stored once. Waits for the stream's ack.
   */
  async send<S extends z.ZodType>(
    message: StreamMessage<S>,
    value: z.infer<S>,
    options: { timeoutMs?: number } = {},
  ): Promise<PublishResult> {
    return this.publish(message.subject(this.topology, value), value, { msgId: message.msgId(value), ...options });
  }

  /** Core NATS publish: fire and forget (live notifications, never for work). */
  notify(subject: string, value: unknown): void {
    this.#nats.nc.publish(subject, encodeJson(value));
  }

  /**
   * Core-NATS subscription (at-most-once) with JSON values; a body that is not JSON is dropped and
   * the handler's errors are logged, never thrown into the client.
   * `registered()` resolves once the server has the subscription (a round trip): whatever is
   * published after that reaches `handler`.
   */
  listen(
    subject: string,
    handler: (value: unknown, subject: string) => void | Promise<void>,
  ): { stop(): void; registered(): Promise<void> } {
    const sub = this.#nats.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) return;
        let value: unknown;
        try {
          value = msg.json();
        } catch {
          return;
        }
        void Promise.resolve(handler(value, msg.subject)).catch((e: unknown) =>
          this.logger.error({ err: e, subject: msg.subject }, 'listener failed'),
        );
      },
    });
    this.subscriptions.push(sub);
    return {
      stop: () => {
        sub.unsubscribe();
        this.subscriptions = this.subscriptions.filter((s) => s !== sub);
      },
      registered: () => this.#nats.nc.flush(),
    };
  }

  /** A fresh reply subject under this connection's inbox prefix (the only one it may subscribe to). */
  createInbox(): string {
    return createInbox(this.inboxPrefix);
  }

  /** Keeps a promise in the set that `drain` waits for. */
  track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p)).catch(() => undefined);
    return p;
  }

  get isClosed(): boolean {
    return this.#nats.nc.isClosed();
  }

  /**
   * Graceful stop: stop taking requests, let in-flight handlers answer, then drain the
   * connection (which flushes pending publishes) and close.
   */
  async drain(): Promise<void> {
    if (this.#nats.nc.isClosed()) return;
    await this.stopServing();
    await this.#nats.nc.drain().catch(() => this.#nats.nc.close());
  }

  /**
   * First half of `drain`: stop taking requests and let in-flight handlers answer, keeping the
   * connection up (for acknowledgements still on their way).
   */
  async stopServing(): Promise<void> {
    for (const s of this.subscriptions.splice(0)) s.unsubscribe();
    await Promise.allSettled([...this.inFlight]);
  }

  async close(): Promise<void> {
    if (!this.#nats.nc.isClosed()) await this.#nats.nc.close();
  }
}

function decodeReply(data: Uint8Array): Reply<unknown> {
  try {
    const value = JSON.parse(new TextDecoder().decode(data)) as { ok?: unknown; result?: unknown; error?: unknown };
    if (value.ok === true) return { ok: true, result: value.result };
    const error = ErrorBody.safeParse(value.error);
    if (value.ok === false && error.success) return { ok: false, error: error.data };
  } catch {
    // fall through
  }
  return { ok: false, error: { code: 'internal', message: 'reply is not a contract envelope' } };
}

function requestFailure(err: unknown, subject: string, timeout: number): ErrorBody {
  if (isPermissionError(err)) {
    return { code: 'forbidden', message: `the NATS server does not let this service request ${subject}` };
  }
  const cause = err instanceof Error && err.cause ? err.cause : err;
  if (cause instanceof errors.NoRespondersError || err instanceof errors.NoRespondersError) {
    return { code: 'unavailable', message: `no service answers on ${subject}` };
  }
  if (err instanceof errors.TimeoutError || cause instanceof errors.TimeoutError) {
    return { code: 'timeout', message: `no reply on ${subject} within ${timeout} ms` };
  }
  if (
    err instanceof errors.ClosedConnectionError ||
    err instanceof errors.DrainingConnectionError ||
    err instanceof errors.ConnectionError
  ) {
    return { code: 'unavailable', message: `NATS connection is not usable: ${err.message}` };
  }
  return { code: 'unavailable', message: `request on ${subject} failed: ${err instanceof Error ? err.message : String(err)}` };
}
