import type { ServerResponse } from 'node:http';
import type { Bus } from '@patchflow/bus';
import { ActionLogUpdated, ContractError } from '@patchflow/contracts';
import type { Logger } from '@patchflow/log';
import { apiContentSecurityPolicy, securityHeaders } from './http-hardening.js';
import { HttpError } from './http-errors.js';
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
 * Fans the action-log's core-NATS pings out to browsers as Server-Sent Events. One NATS
 * subscription for the whole gateway; each open stream registers for one patch. A ping is a hint
 * to refetch, not data: a missed one (core NATS is at-most-once) is healed by the next, and the
 * browser refetches on every reconnect. Streams are capped per token and in all: each holds a
 * socket for as long as the client likes.
 */
export class LiveUpdates {
  private readonly streams = new Map<string, Set<ServerResponse>>();
  private readonly perActor = new Map<string, number>();
  private total = 0;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly listener: { stop(): void };

  constructor(
    bus: Bus,
    private readonly limits: LiveLimits,
    private readonly logger: Logger,
  ) {
    this.listener = bus.listen(bus.topology.allActionLogUpdates, (value) => {
      const ping = ActionLogUpdated.safeParse(value);
      if (!ping.success) return;
      const data = `event: updated\ndata: ${JSON.stringify(ping.data)}\n\n`;
      for (const res of this.streams.get(ping.data.patchId) ?? []) res.write(data);
    });
    this.heartbeat = setInterval(() => {
      for (const set of this.streams.values()) for (const res of set) res.write(': keep-alive\n\n');
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
   * `admit` first, in the same tick (nothing may await in between, or the caps could be passed).
   */
  open(patchId: string, res: ServerResponse, principal: Principal): void {
    res.writeHead(200, {
      ...securityHeaders,
      'content-security-policy': apiContentSecurityPolicy,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(`retry: 2000\nevent: ready\ndata: {"patchId":"${patchId}"}\n\n`);
    let set = this.streams.get(patchId);
    if (!set) this.streams.set(patchId, (set = new Set()));
    set.add(res);
    this.total += 1;
    this.perActor.set(principal.name, (this.perActor.get(principal.name) ?? 0) + 1);
    // The token's name only: the token itself may be in the URL (`?access_token=`), which is never logged.
    this.logger.info({ actor: principal.name, patchId, streams: this.total }, 'live stream opened');
    res.on('close', () => {
      set.delete(res);
      if (set.size === 0) this.streams.delete(patchId);
      this.total -= 1;
      const left = (this.perActor.get(principal.name) ?? 1) - 1;
      if (left === 0) this.perActor.delete(principal.name);
      else this.perActor.set(principal.name, left);
      this.logger.debug({ actor: principal.name, patchId, streams: this.total }, 'live stream closed');
    });
  }

  get openStreams(): number {
    return this.total;
  }

  /** Ends every stream (browsers reconnect to another instance) and stops listening. */
  close(): void {
    clearInterval(this.heartbeat);
    this.listener.stop();
    for (const set of this.streams.values()) for (const res of set) res.end();
    this.streams.clear();
  }
}
