import type { ServerResponse } from 'node:http';
import type { Bus } from '@patchflow/bus';
import { ActionLogUpdated, ContractError } from '@patchflow/contracts';
import type { Logger } from '@patchflow/log';
import { apiContentSecurityPolicy, securityHeaders } from './http-hardening.js';
import { HttpError, httpStatusOf } from './http-errors.js';
import type { Principal } from './tokens.js';

export interface LiveLimits {
  /** Streams one token may hold open at once (429 beyond). */
  perToken: number;
  /** Streams this gateway holds open in all (503 beyond). */
  total: number;
  /** A comment line this often keeps proxies and the idle timeout from closing a quiet stream. */
  heartbeatMs: number;
}

/**
 * How long a new stream waits for NATS to confirm its patch's subscription before it is answered
 * 503 (the UI asks again in a few seconds: EventSource itself never retries a refused stream).
 * When the last stream of the patch closes, the unconfirmed subscription goes with it, so the next
 * stream subscribes afresh.
 */
const REGISTER_TIMEOUT_MS = 5000;

/** The open streams of one patch and the subscription to its pings. */
interface Watched {
  clients: Set<ServerResponse>;
  listener: { stop(): void };
  /** Resolves once NATS has the subscription; rejects when it cannot be confirmed. */
  registered: Promise<void>;
}

/**
 * Fans the action-log's core-NATS pings out to browsers as Server-Sent Events. The gateway
 * subscribes to a patch's pings only while a stream of that patch is open (one subscription per
 * watched patch, however many streams), so a gateway nobody watches receives no pings at all. A
 * stream gets its headers and `ready` only once NATS has confirmed the subscription: a change
 * made after the client saw `ready` always pings it. A ping is a hint to refetch, not data: a
 * missed one (core NATS is at-most-once) is healed by the next, and the browser refetches on every
 * reconnect. Streams are capped per token and in all: each holds a socket for as long as the
 * client likes.
 */
export class LiveUpdates {
  private readonly watched = new Map<string, Watched>();
  private readonly perActor = new Map<string, number>();
  private total = 0;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(
    private readonly bus: Bus,
    private readonly limits: LiveLimits,
    private readonly logger: Logger,
  ) {
    this.heartbeat = setInterval(() => {
      for (const w of this.watched.values()) for (const res of w.clients) if (res.headersSent) res.write(': keep-alive\n\n');
    }, limits.heartbeatMs);
    this.heartbeat.unref();
  }

  /** Throws 429 when this token holds its maximum of streams, 503 when the gateway does. */
  admit(principal: Principal): void {
    const mine = this.perActor.get(principal.name) ?? 0;
    if (mine >= this.limits.perToken) {
      this.logger.warn({ actor: principal.name, streams: mine }, 'live stream refused: per-token limit');
      throw new HttpError(429, {
        code: 'rate_limited',
        message: `this token already holds ${mine} live streams (at most ${this.limits.perToken}); close one first`,
        details: { limit: this.limits.perToken },
      });
    }
    if (this.total >= this.limits.total) {
      this.logger.warn({ actor: principal.name, streams: this.total }, 'live stream refused: gateway limit');
      throw new ContractError(
        'unavailable',
        `this gateway holds its maximum of ${this.limits.total} live streams; try again later`,
      );
    }
  }

  /**
   * Takes over the response as an event stream for `patchId` until the client goes away. Call
   * `admit` first, in the same tick (the stream is counted before this awaits anything, so the caps
   * cannot be passed). Resolves once the stream is open, or answered 503 when NATS could not
   * confirm the subscription.
   */
  async open(patchId: string, res: ServerResponse, principal: Principal): Promise<void> {
    const watched = this.watch(patchId);
    watched.clients.add(res);
    this.total += 1;
    this.perActor.set(principal.name, (this.perActor.get(principal.name) ?? 0) + 1);
    res.on('close', () => {
      watched.clients.delete(res);
      if (watched.clients.size === 0 && this.watched.get(patchId) === watched) {
        watched.listener.stop();
        this.watched.delete(patchId);
      }
      this.total -= 1;
      const left = (this.perActor.get(principal.name) ?? 1) - 1;
      if (left === 0) this.perActor.delete(principal.name);
      else this.perActor.set(principal.name, left);
      this.logger.debug({ actor: principal.name, patchId, streams: this.total }, 'live stream closed');
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        watched.registered,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no confirmation within ${REGISTER_TIMEOUT_MS} ms`)), REGISTER_TIMEOUT_MS);
        }),
      ]);
    } catch (err) {
      this.logger.warn({ patchId, err: (err as Error).message }, 'live stream refused: NATS did not confirm the subscription');
      if (!res.destroyed) {
        // The reply is hijacked, so the error handler is out of reach: the same status and body by hand.
        const refusal = new ContractError('unavailable', 'live updates are unavailable right now; try again later');
        res.writeHead(httpStatusOf(refusal.code), { ...securityHeaders, 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify({ error: refusal.toBody() }));
      }
      return;
    } finally {
      clearTimeout(timer);
    }
    if (res.destroyed) return; // the client left while the subscription was confirmed
    res.writeHead(200, {
      ...securityHeaders,
      'content-security-policy': apiContentSecurityPolicy,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(`retry: 2000\nevent: ready\ndata: {"patchId":"${patchId}"}\n\n`);
    // The token's name only: the token itself may be in the URL (`?access_token=`), which is never logged.
    this.logger.info({ actor: principal.name, patchId, streams: this.total }, 'live stream opened');
  }

  /** The subscription to `patchId`'s pings, made by its first stream. */
  private watch(patchId: string): Watched {
    const known = this.watched.get(patchId);
    if (known) return known;
    const clients = new Set<ServerResponse>();
    const onPing = (value: unknown) => {
      const ping = ActionLogUpdated.safeParse(value);
      if (!ping.success || ping.data.patchId !== patchId) return;
      const data = `event: updated\ndata: ${JSON.stringify(ping.data)}\n\n`;
      for (const res of clients) if (res.headersSent) res.write(data);
    };
    let listener: { stop(): void };
    let registered: Promise<void>;
    try {
      const subscription = this.bus.listen(this.bus.topology.actionLogUpdated(patchId), onPing);
      listener = subscription;
      registered = subscription.registered();
    } catch (err) {
      // The connection is closed (the gateway is stopping): the stream is answered 503.
      listener = { stop: () => undefined };
      registered = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    // Awaited by every stream of the patch; a rejection unobserved here is not a crash.
    registered.catch(() => undefined);
    const watched: Watched = { clients, listener, registered };
    this.watched.set(patchId, watched);
    return watched;
  }

  get openStreams(): number {
    return this.total;
  }

  /** Ends every stream (browsers reconnect to another instance) and stops listening. */
  close(): void {
    clearInterval(this.heartbeat);
    for (const w of this.watched.values()) {
      w.listener.stop();
      for (const res of w.clients) res.end();
    }
    this.watched.clear();
  }
}
