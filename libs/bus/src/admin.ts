import { JetStreamApiCodes, JetStreamApiError, type ClusterInfo, type ConsumerInfo, type StreamInfo } from '@nats-io/jetstream';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { PublishResult } from './bus.js';

/** The three nats.js handles a `Bus` holds privately; only libs/bus's own modules see them. */
export interface NatsHandles {
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager;
  readonly js: JetStreamClient;
}

/** Thrown by `bus.admin` for a stream or consumer that is not there, or a name NATS cannot take. One line naming it. */
export class BusAdminError extends Error {
  override name = 'BusAdminError';
  constructor(
    message: string,
    readonly kind: 'not_found' | 'invalid_name',
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A stream's peers in a cluster (undefined on a single server). */
export interface ClusterView {
  leader: string | undefined;
  /** The peers other than the leader; one catching up is not `current` or has `lag` > 0. */
  replicas: { name: string; current: boolean; lag: number }[];
}

export interface StreamView {
  name: string;
  subjects: string[];
  messages: number;
  bytes: number;
  /** 0 in an empty stream that never held a message; after expiry, the oldest kept. */
  firstSeq: number;
  lastSeq: number;
  /** Consumers of every kind, ephemeral ordered readers included. */
  consumers: number;
  replicas: number;
  cluster: ClusterView | undefined;
}

export interface ConsumerView {
  stream: string;
  name: string;
  /** Undefined for an ephemeral consumer (an ordered reader). */
  durableName: string | undefined;
  /** Messages the consumer has not been delivered yet. */
  pending: number;
  /** Delivered and not acknowledged yet. */
  ackPending: number;
  redelivered: number;
  /** Deliveries so far (the consumer's sequence). */
  delivered: number;
  /** Last delivery or acknowledgement (ISO time), null when it has seen neither. */
  lastActive: string | null;
  /** As configured: 0 means as many copies as its stream has. */
  replicas: number;
  cluster: ClusterView | undefined;
}

/** One message as the stream stores it. */
export interface StoredMessage {
  seq: number;
  subject: string;
  time: Date;
  /** The `Nats-Msg-Id` it was published with, if any. */
  msgId: string | undefined;
  data: Uint8Array;
  /** The data parsed as JSON (throws on bytes that are not JSON). */
  json(): unknown;
}

/** What `readRange` reads: from `fromSeq` or from `since`, up to `toSeq` and `until` (all inclusive). */
export interface ReadRange {
  /** First sequence (default: the stream's first); not with `since`. */
  fromSeq?: number;
  /** First message stored at or after this time; not with `fromSeq`. */
  since?: Date;
  /** Last sequence (default and at most: the last one stored when the read began). */
  toSeq?: number;
  /** Stops at the first message stored after this time. */
  until?: Date;
  /** Only messages on this subject (wildcards allowed). */
  subject?: string;
}

const decoder = new TextDecoder();

/**
 * Operator and test access to the streams (`bus.admin`): named operations returning plain views,
 * so nothing outside libs/bus holds a nats.js handle. Services use `Bus` itself and `consumer.ts`.
 */
export class BusAdmin {
  readonly #nats: NatsHandles;

  constructor(nats: NatsHandles) {
    this.#nats = nats;
  }

  /** One stream's state and configuration. Throws BusAdminError when it does not exist. */
  async streamInfo(stream: string): Promise<StreamView> {
    return streamView(await this.#nats.jsm.streams.info(stream).catch((err: unknown) => rethrow(err, { stream })));
  }

  /** Every stream on the server, or those storing `subject` (wildcards allowed), by name. */
  async streams(subject?: string): Promise<StreamView[]> {
    const out: StreamView[] = [];
    for await (const info of this.#nats.jsm.streams.list(subject)) out.push(streamView(info));
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Deletes a stream and its messages. False when there was none of that name. */
  async deleteStream(stream: string): Promise<boolean> {
    try {
      return await this.#nats.jsm.streams.delete(stream);
    } catch (err) {
      if (isApiError(err, JetStreamApiCodes.StreamNotFound)) return false;
      return rethrow(err, { stream });
    }
  }

  /** The message stored at `seq`, or null when there is none (never stored, expired or deleted). */
  async message(stream: string, seq: number): Promise<StoredMessage | null> {
    if (!Number.isSafeInteger(seq) || seq < 1) throw new RangeError(`message: sequence ${seq} is not a positive integer`);
    const m = await this.#nats.jsm.streams.getMessage(stream, { seq }).catch((err: unknown) => rethrow(err, { stream }));
    if (!m) return null;
    return storedMessage(m.seq, m.subject, m.time, m.header.get('Nats-Msg-Id'), m.data);
  }

  /** A consumer's progress. Throws BusAdminError when the stream or the consumer does not exist. */
  async consumerInfo(stream: string, consumer: string): Promise<ConsumerView> {
    const info = await this.#nats.jsm.consumers
      .info(stream, consumer)
      .catch((err: unknown) => rethrow(err, { stream, consumer }));
    return consumerView(info);
  }

  /** Every consumer of a stream (durable and ephemeral), by name. */
  async consumers(stream: string): Promise<ConsumerView[]> {
    const out: ConsumerView[] = [];
    try {
      for await (const info of this.#nats.jsm.consumers.list(stream)) out.push(consumerView(info));
    } catch (err) {
      return rethrow(err, { stream });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * Publishes bytes as they are to JetStream and waits for the stream's ack — for tests that
   * send what no contract allows, and for operators. Work and events go through `Bus.send`.
   */
  async publishRaw(
    subject: string,
    data: Uint8Array,
    options: { msgId?: string; timeoutMs?: number } = {},
  ): Promise<PublishResult> {
    const ack = await this.#nats.js
      .publish(subject, data, {
        ...(options.msgId ? { msgID: options.msgId } : {}),
        ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}),
      })
      .catch((err: unknown) => {
        // nats.js reads "no responders" as JetStream being off; usually no stream captures the subject.
        if (err instanceof Error && err.name === 'JetStreamNotEnabled')
          throw new BusAdminError(`no stream stores ${JSON.stringify(subject)} (nothing acknowledged the publish)`, 'not_found', {
            cause: err,
          });
        throw err;
      });
    return { seq: ack.seq, duplicate: ack.duplicate };
  }

  /**
   * A core NATS subscription that hands over the raw message — e.g. a responder that never
   * answers, for tests of timeouts. Call `flush()` after it to be sure the server has it.
   */
  subscribeRaw(
    subject: string,
    handle: (m: { subject: string; data: Uint8Array; reply: string | undefined }) => void,
  ): { stop(): void } {
    const sub = this.#nats.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (!err) handle({ subject: msg.subject, data: msg.data, reply: msg.reply || undefined });
      },
    });
    return { stop: () => sub.unsubscribe() };
  }

  /**
   * Whether anyone subscribes to `subject` now: a core NATS request with an empty body, which the
   * server answers "no responders" at once when nobody does. A subscriber that does not reply
   * (a listener) lets it time out after `timeoutMs`: that counts as someone.
   */
  async hasSubscribers(subject: string, timeoutMs = 250): Promise<boolean> {
    try {
      await this.#nats.nc.request(subject, new Uint8Array(), { timeout: timeoutMs });
      return true;
    } catch (err) {
      if (err instanceof Error && /no responders/.test(err.message)) return false;
      if (err instanceof Error && err.name === 'TimeoutError') return true;
      throw err;
    }
  }

  /** Resolves once the server has processed everything this connection sent before. */
  async flush(): Promise<void> {
    await this.#nats.nc.flush();
  }

  /**
   * Reads a range of a stream in order with an ephemeral ordered consumer (nothing durable is
   * created or left behind). Ends at `toSeq`, at `until`, or at the last message stored when the
   * read began, whichever comes first; an empty stream or range yields nothing.
   */
  async *readRange(stream: string, range: ReadRange = {}): AsyncGenerator<StoredMessage> {
    for (const [key, seq] of [
      ['fromSeq', range.fromSeq],
      ['toSeq', range.toSeq],
    ] as const) {
      if (seq !== undefined && (!Number.isSafeInteger(seq) || seq < 1))
        throw new RangeError(`readRange: ${key} ${seq} is not a positive integer`);
    }
    if (range.fromSeq !== undefined && range.since) throw new RangeError('readRange: give fromSeq or since, not both');
    const info = await this.streamInfo(stream);
    const last = Math.min(info.lastSeq, range.toSeq ?? Number.MAX_SAFE_INTEGER);
    const start = range.since ? undefined : Math.max(range.fromSeq ?? info.firstSeq, info.firstSeq);
    if (info.messages === 0 || (start !== undefined && start > last)) return;
    const consumer = await this.#nats.js.consumers.get(stream, {
      ...(start !== undefined ? { opt_start_seq: start } : { opt_start_time: range.since!.toISOString() }),
      ...(range.subject ? { filter_subjects: range.subject } : {}),
    });
    for (;;) {
      const batch = await consumer.fetch({ max_messages: 256, expires: 1000 });
      let n = 0;
      for await (const m of batch) {
        n++;
        if (m.seq > last || (range.until && m.time > range.until)) return;
        yield storedMessage(m.seq, m.subject, m.time, m.headers?.get('Nats-Msg-Id'), m.data);
        if (m.seq >= last || m.info.pending === 0) return;
      }
      if (n === 0) return;
    }
  }
}

function storedMessage(seq: number, subject: string, time: Date, msgId: string | undefined, data: Uint8Array): StoredMessage {
  return { seq, subject, time, msgId: msgId || undefined, data, json: () => JSON.parse(decoder.decode(data)) as unknown };
}

function clusterView(c: ClusterInfo | undefined): ClusterView | undefined {
  if (!c) return undefined;
  return { leader: c.leader, replicas: (c.replicas ?? []).map((p) => ({ name: p.name, current: p.current, lag: p.lag ?? 0 })) };
}

function streamView(info: StreamInfo): StreamView {
  const s = info.state;
  return {
    name: info.config.name,
    subjects: info.config.subjects ?? [],
    messages: s.messages,
    bytes: s.bytes,
    firstSeq: s.first_seq,
    lastSeq: s.last_seq,
    consumers: s.consumer_count,
    replicas: info.config.num_replicas || 1,
    cluster: clusterView(info.cluster),
  };
}

function consumerView(info: ConsumerInfo): ConsumerView {
  const lastActive = [info.delivered.last_active, info.ack_floor.last_active]
    .map(isoTime)
    .filter((t): t is string => t !== null)
    .sort()
    .at(-1);
  return {
    stream: info.stream_name,
    name: info.name,
    durableName: info.config.durable_name || undefined,
    pending: info.num_pending,
    ackPending: info.num_ack_pending,
    redelivered: info.num_redelivered,
    delivered: info.delivered.consumer_seq,
    lastActive: lastActive ?? null,
    replicas: info.config.num_replicas ?? 0,
    cluster: clusterView(info.cluster),
  };
}

/** The server sends `last_active` as an RFC 3339 time (nats.js types it as nanoseconds): take either. */
function isoTime(v: unknown): string | null {
  if (typeof v === 'string' && v !== '' && !v.startsWith('0001-')) return new Date(v).toISOString();
  if (typeof v === 'number' && v > 0) return new Date(v / 1e6).toISOString();
  return null;
}

function isApiError(err: unknown, code: number): boolean {
  return err instanceof JetStreamApiError && err.code === code;
}

/** nats.js's "stream not found" or "cannot contain '.'" as one line naming the stream or consumer. */
function rethrow(err: unknown, what: { stream: string; consumer?: string }): never {
  const stream = JSON.stringify(what.stream);
  if (isApiError(err, JetStreamApiCodes.StreamNotFound))
    throw new BusAdminError(`stream ${stream} not found on the NATS server`, 'not_found', { cause: err });
  if (isApiError(err, JetStreamApiCodes.ConsumerNotFound))
    throw new BusAdminError(`consumer ${JSON.stringify(what.consumer)} not found on stream ${stream}`, 'not_found', {
      cause: err,
    });
  // nats.js checks names before asking the server: "stream name ('a.b') cannot contain '.'", "durable name required".
  if (err instanceof Error && (err.name === 'InvalidNameError' || / name required$/.test(err.message)))
    throw new BusAdminError(`not a valid name: ${err.message}`, 'invalid_name', { cause: err });
  throw err;
}
