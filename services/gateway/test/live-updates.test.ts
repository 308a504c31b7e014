import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bus } from '@patchflow/bus';
import { createLogger } from '@patchflow/log';
import { connectTestBus, uniqueNamespace } from '@patchflow/testing';
import { LiveUpdates } from '../src/live-updates.js';
import type { Principal } from '../src/tokens.js';

const viewer = { name: 'vera', role: 'viewer' } as Principal;
const limits = { perToken: 5, total: 10, heartbeatMs: 60_000 };

/** An HTTP server whose every request opens a live stream of `patchId` (the route's part, without patch-status). */
async function serve(live: LiveUpdates, patchId: string): Promise<{ server: Server; url: string }> {
  const server = createServer((_req, res) => {
    live.admit(viewer);
    void live.open(patchId, res, viewer);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('LiveUpdates', () => {
  let bus: Bus;
  beforeAll(async () => {
    bus = await connectTestBus(uniqueNamespace('live'));
  });
  afterAll(async () => {
    await bus.drain().catch(() => undefined);
  });

  it('answers 503 (and counts no stream) when NATS cannot confirm the subscription', async () => {
    const closedBus = await connectTestBus(uniqueNamespace('live-closed'));
    const live = new LiveUpdates(closedBus, limits, createLogger('gateway', 'silent'));
    await closedBus.drain();
    const { server, url } = await serve(live, randomUUID());
    try {
      const res = await fetch(url);
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ error: { code: 'unavailable', message: expect.stringMatching(/try again later/) } });
      await expect.poll(() => live.openStreams).toBe(0);
    } finally {
      live.close();
      server.close();
    }
  });

  it('opens a stream once subscribed, delivers its patch pings only, and lets go when the client leaves', async () => {
    const patchId = randomUUID();
    const live = new LiveUpdates(bus, limits, createLogger('gateway', 'silent'));
    const { server, url } = await serve(live, patchId);
    try {
      const res = await fetch(url);
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      expect(new TextDecoder().decode((await reader.read()).value)).toContain('event: ready');
      bus.notify(bus.topology.actionLogUpdated(randomUUID()), {
        patchId: randomUUID(),
        workId: randomUUID(),
        kind: 'work',
        settled: false,
        effects: 'running',
      });
      bus.notify(bus.topology.actionLogUpdated(patchId), { not: 'a ping' }); // fails the contract: dropped
      bus.notify(bus.topology.actionLogUpdated(patchId), {
        patchId,
        workId: randomUUID(),
        kind: 'work',
        settled: true,
        effects: 'settled',
      });
      const next = new TextDecoder().decode((await reader.read()).value);
      expect(next).toMatch(/^event: updated\ndata: \{"patchId":"[^"]+".*"settled":true/);
      expect(next).toContain(patchId);
      expect(live.openStreams).toBe(1);
      await reader.cancel();
      await expect.poll(() => live.openStreams).toBe(0);
      await expect.poll(() => bus.admin.hasSubscribers(bus.topology.actionLogUpdated(patchId))).toBe(false);
    } finally {
      live.close();
      server.close();
    }
  });
});
