import type { ServerResponse } from 'node:http';
import type { Bus } from '@patchflow/bus';
import { ActionLogUpdated } from '@patchflow/contracts';

/**
 * Fans the action-log's core-NATS pings out to browsers as Server-Sent Events. One NATS
 * subscription for the whole gateway; each open stream registers for one patch. A ping is a hint
 * to refetch, not data: a missed one (core NATS is at-most-once) is healed by the next, and the
 * browser refetches on every reconnect.
 */
export class LiveUpdates {
  private readonly streams = new Map<string, Set<ServerResponse>>();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly listener: { stop(): void };

  constructor(bus: Bus) {
    this.listener = bus.listen(bus.topology.allActionLogUpdates, (value) => {
      const ping = ActionLogUpdated.safeParse(value);
      if (!ping.success) return;
      const data = `event: updated\ndata: ${JSON.stringify(ping.data)}\n\n`;
      for (const res of this.streams.get(ping.data.patchId) ?? []) res.write(data);
    });
    // Comments keep proxies from closing an idle stream.
    this.heartbeat = setInterval(() => {
      for (const set of this.streams.values()) for (const res of set) res.write(': keep-alive\n\n');
    }, 15_000);
    this.heartbeat.unref();
  }

  /** Takes over the response as an event stream for `patchId` until the client goes away. */
  open(patchId: string, res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(`retry: 2000\nevent: ready\ndata: {"patchId":"${patchId}"}\n\n`);
    let set = this.streams.get(patchId);
    if (!set) this.streams.set(patchId, (set = new Set()));
    set.add(res);
    res.on('close', () => {
      set.delete(res);
      if (set.size === 0) this.streams.delete(patchId);
    });
  }

  get openStreams(): number {
    let n = 0;
    for (const set of this.streams.values()) n += set.size;
    return n;
  }

  /** Ends every stream (browsers reconnect to another instance) and stops listening. */
  close(): void {
    clearInterval(this.heartbeat);
    this.listener.stop();
    for (const set of this.streams.values()) for (const res of set) res.end();
    this.streams.clear();
  }
}
