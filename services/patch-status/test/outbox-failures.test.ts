import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bus } from '@patchflow/bus';
import { patchEndpoints, type WorkItem } from '@patchflow/contracts';
import { createLogger } from '@patchflow/log';
import {
  connectTestBus,
  createTestDatabase,
  deleteNamespaceStreams,
  faultInjectors,
  PrivateNatsServer,
  readStream,
  ServiceProcess,
  testLogLevel,
  testNatsUrl,
  testPool,
  uniqueNamespace,
  waitFor,
  type TestDatabase,
} from '@patchflow/testing';
import { startPatchStatus } from '../src/index.js';
import { OutboxRelay } from '../src/outbox-relay.js';

const ENTRY = 'services/patch-status/src/main.ts';

/** The work stream's messages, with their msg-ids and decoded work items. */
async function streamMessages(bus: Bus): Promise<{ msgId: string | undefined; work: WorkItem }[]> {
  return (await readStream(bus, 'work')).map((m) => ({ msgId: m.msgId, work: m.value as WorkItem }));
}

describe('kill between commit and publish', () => {
  let db: TestDatabase;
  let namespace: string;
  let client: Bus;
  let sql: pg.Pool;
  const processes: ServiceProcess[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('outbox_kill');
    namespace = uniqueNamespace('okill');
    client = await connectTestBus(namespace);
    sql = testPool(db.url);
  });
  afterAll(async () => {
    for (const p of processes) await p.stop('SIGKILL');
    await sql.end();
    await deleteNamespaceStreams(client);
    await client.close();
    await db.drop();
  });

  const start = (imports: string[] = []) => {
    const p = ServiceProcess.start(
      ENTRY,
      {
        DATABASE_URL: db.url,
        NATS_URL: testNatsUrl(),
        BUS_NAMESPACE: namespace,
        OUTBOX_RELAY_INTERVAL_MS: '100',
        OUTBOX_RELAY_GRACE_MS: '0',
      },
      { imports },
    );
    processes.push(p);
    return p;
  };

  it('SIGKILL after commit: the restarted service publishes the work exactly once', async () => {
    // The fault comes from outside: a module loaded into the process kills it once the
    // transition's statement has committed (patch-status itself has no fault hook).
    const crashing = start([faultInjectors.crashAfterCommit]);
    await crashing.waitForLog(/patch-status ready/);
    const { patch } = await client.call(patchEndpoints.create, { name: '2026.50.1', product: 'payments', actor: 't' });
    const reply = await client.request(patchEndpoints.transition, {
      patchId: patch.id,
      action: 'markActive',
      actor: { name: 't', role: 'operator' },
    });
    expect(reply.ok).toBe(false); // the process died before answering
    expect(await crashing.exited).toBeNull(); // killed by a signal, not exited
    expect(crashing.logs).toMatch(/fault point crash-after-commit/);

    const rows = await sql.query('SELECT id, published_at FROM patch_transition_work');
    expect(rows.rows).toHaveLength(1);
    expect(rows.rows[0].published_at).toBeNull();
    const workId: string = rows.rows[0].id;
    expect(await streamMessages(client)).toHaveLength(0);

    const restarted = start();
    await restarted.waitForLog(/patch-status ready/);
    await waitFor(async () => (await sql.query('SELECT 1 FROM patch_transition_work WHERE published_at IS NOT NULL')).rowCount, {
      what: 'the relay to publish the orphaned work',
    });
    const msgs = await streamMessages(client);
    expect(msgs).toHaveLength(1);
    expect(msgs[0]).toMatchObject({ msgId: workId, work: { workId, transition: { action: 'markActive', patchId: patch.id } } });
    // The transition is visible as committed, with the patch moved on.
    expect((await client.call(patchEndpoints.get, { id: patch.id })).patch.status).toBe('active');

    // Lose the record of the publish (crash after publish, before marking): the relay publishes
    // again, and JetStream's duplicate window keeps the stream at one message.
    await sql.query('UPDATE patch_transition_work SET published_at = NULL');
    await waitFor(async () => (await sql.query('SELECT 1 FROM patch_transition_work WHERE published_at IS NOT NULL')).rowCount, {
      what: 'the relay to publish again',
    });
    expect(await streamMessages(client)).toHaveLength(1);
    await restarted.stop('SIGTERM');
    expect(restarted.logs).toMatch(/patch-status stopped/);
  });
});

describe('SIGTERM while busy', () => {
  it('answers what it took, publishes and records every committed transition, then exits 0', async () => {
    const db = await createTestDatabase('outbox_term');
    const namespace = uniqueNamespace('oterm');
    const client = await connectTestBus(namespace);
    const sql = testPool(db.url);
    const service = ServiceProcess.start(ENTRY, { DATABASE_URL: db.url, NATS_URL: testNatsUrl(), BUS_NAMESPACE: namespace });
    try {
      await service.waitForLog(/patch-status ready/);
      const patches = [];
      for (let i = 0; i < 40; i++) {
        patches.push((await client.call(patchEndpoints.create, { name: `2026.53.${i}`, product: 'term', actor: 't' })).patch);
      }
      const replies = patches.map((p) =>
        client.request(
          patchEndpoints.transition,
          { patchId: p.id, action: 'markActive', actor: { name: 't', role: 'operator' } },
          { timeoutMs: 10_000 },
        ),
      );
      // Let the first requests reach the service, then stop it while the rest are in flight.
      await replies[0];
      service.kill('SIGTERM');
      const settled = await Promise.all(replies);
      expect(await service.exited).toBe(0);

      // Every request was either answered with its committed transition or refused as
      // unavailable (it arrived after the service stopped listening) — none hung or half-failed.
      for (const r of settled) if (!r.ok) expect(r.error.code).toBe('unavailable');
      const answered = settled.filter((r) => r.ok).length;
      expect(answered).toBeGreaterThan(0);
      const rows = await sql.query<{ n: number; unpublished: number }>(
        'SELECT count(*)::int AS n, count(*) FILTER (WHERE published_at IS NULL)::int AS unpublished FROM patch_transition_work',
      );
      expect(rows.rows[0]).toEqual({ n: answered, unpublished: 0 });
      expect(await streamMessages(client)).toHaveLength(answered);
    } finally {
      service.kill('SIGKILL');
      await sql.end();
      await deleteNamespaceStreams(client);
      await client.close();
      await db.drop();
    }
  });
});

describe('NATS unreachable while committing', () => {
  let nats: PrivateNatsServer;
  let db: TestDatabase;

  beforeAll(async () => {
    nats = await PrivateNatsServer.start();
    db = await createTestDatabase('outbox_nats');
  });
  afterAll(async () => {
    await nats.dispose();
    await db.drop();
  });

  it('the transition succeeds, and its work is published once NATS is back', async () => {
    const namespace = uniqueNamespace('ondown');
    const app = await startPatchStatus({
      databaseUrl: db.url,
      natsUrl: nats.url,
      namespace,
      logLevel: testLogLevel,
      env: { OUTBOX_RELAY_INTERVAL_MS: '200', OUTBOX_RELAY_GRACE_MS: '0' },
    });
    const { patch } = await app.service.create({ name: '2026.51.1', product: 'payments', actor: 't' });
    await nats.stop();

    const result = await app.service.transition({ patchId: patch.id, action: 'markActive', actor: { name: 't', role: 'admin' } });
    expect(result.patch.status).toBe('active');
    expect(result.replayed).toBe(false);

    const sql = testPool(db.url);
    // Give the publish and a relay round time to fail while NATS is down.
    await new Promise((r) => setTimeout(r, 600));
    const pending = await sql.query('SELECT published_at FROM patch_transition_work WHERE id = $1', [result.transition.workId]);
    expect(pending.rows[0].published_at).toBeNull();

    await nats.restart();
    await waitFor(async () => (await sql.query('SELECT 1 FROM patch_transition_work WHERE published_at IS NOT NULL')).rowCount, {
      timeoutMs: 20_000,
      what: 'work published after NATS came back',
    });
    const observer = await Bus.connect({ url: nats.url, name: 'observer', namespace, logger: createLogger('t', 'silent') });
    const msgs = await streamMessages(observer);
    expect(msgs).toHaveLength(1);
    expect(msgs[0]!.msgId).toBe(result.transition.workId);
    await observer.close();
    await sql.end();
    await app.stop();
  });
});

describe('several relays side by side', () => {
  it('claim disjoint rows: every unpublished row is published by exactly one of them', async () => {
    const db = await createTestDatabase('outbox_relays');
    const namespace = uniqueNamespace('orelay');
    const app = await startPatchStatus({
      databaseUrl: db.url,
      natsUrl: testNatsUrl(),
      namespace,
      logLevel: testLogLevel,
      env: { OUTBOX_RELAY_INTERVAL_MS: '600000' },
    });
    for (let i = 0; i < 60; i++) {
      const { patch } = await app.service.create({ name: `2026.52.${i}`, product: 'relay', actor: 't' });
      await app.service.transition({ patchId: patch.id, action: 'markActive', actor: { name: 't', role: 'admin' } });
      await app.service.transition({ patchId: patch.id, action: 'startDeployment', actor: { name: 't', role: 'admin' } });
    }
    const sql = testPool(db.url, 8);
    await waitFor(
      async () => (await sql.query('SELECT 1 FROM patch_transition_work WHERE published_at IS NULL')).rowCount === 0,
      {
        what: 'publish after commit',
      },
    );
    // Forget every publish, as if all of them had failed.
    await sql.query('UPDATE patch_transition_work SET published_at = NULL, publish_attempts = 0');
    const logger = createLogger('relay', 'silent');
    const relays = [0, 1, 2, 3].map(() => new OutboxRelay(app.bus, sql, logger, { intervalMs: 1000, graceMs: 0, batchSize: 7 }));
    for (;;) {
      const published = await Promise.all(relays.map((r) => r.relayOnce()));
      if (published.every((n) => n === 0)) break;
    }
    const attempts = await sql.query<{ publish_attempts: number; n: number }>(
      'SELECT publish_attempts, count(*)::int AS n FROM patch_transition_work GROUP BY publish_attempts',
    );
    expect(attempts.rows).toEqual([{ publish_attempts: 1, n: 120 }]);
    expect(await streamMessages(app.bus)).toHaveLength(120);
    await sql.end();
    await app.stop();
    const cleanup = await connectTestBus(namespace);
    await deleteNamespaceStreams(cleanup);
    await cleanup.close();
    await db.drop();
  });
});
