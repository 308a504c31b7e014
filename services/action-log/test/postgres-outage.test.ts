import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bus } from '@patchflow/bus';
import { actionLogEndpoints, type WorkItem } from '@patchflow/contracts';
import {
  connectTestBus,
  deleteNamespaceStreams,
  PrivatePostgres,
  testLogLevel,
  testNatsUrl,
  testPool,
  uniqueNamespace,
  waitFor,
} from '@patchflow/testing';
import { startActionLog, type PoisonPolicy, type RunningActionLog } from '../src/index.js';
import { workItem } from './fixtures.js';

// Retries use up their deliveries well within the outage below.
const policy: PoisonPolicy = { maxDeliveries: 3, retryBaseMs: 50, retryMaxMs: 200 };

let pg: PrivatePostgres;
let bus: Bus;
let service: RunningActionLog;

describe.skipIf(!PrivatePostgres.available)('while Postgres is down', () => {
  beforeAll(async () => {
    pg = await PrivatePostgres.create();
    const namespace = uniqueNamespace('aloutage');
    bus = await connectTestBus(namespace);
    service = await startActionLog({
      databaseUrl: pg.url('action_log'),
      natsUrl: testNatsUrl(),
      namespace,
      logLevel: testLogLevel,
      poisonPolicy: policy,
    });
  }, 60_000);

  afterAll(async () => {
    await service?.stop();
    if (bus) {
      await deleteNamespaceStreams(bus);
      await bus.drain();
    }
    await pg?.destroy();
  });

  const publishWork = (w: WorkItem) => bus.publish(bus.topology.work(w.transition.action), w, { msgId: w.workId });

  it('acknowledges nothing it could neither apply nor park, and catches up when Postgres is back', async () => {
    await pg.stop();
    const patchId = randomUUID();
    const good = workItem(patchId, 'markActive', 'draft', 'active', 2);
    await publishWork(good);
    const invalidSeq = (await bus.publish(bus.topology.work('markActive'), { workId: 'not-a-uuid' })).seq;

    const def = bus.topology.actionLogConsumers().work;
    // Both are delivered again and again, far past ACTION_LOG_MAX_DELIVERIES, and never acked.
    await waitFor(
      async () => {
        const info = await bus.admin.consumerInfo(def.stream, def.durableName);
        return info.redelivered === 2 && info.ackPending === 2 && info.delivered >= 2 * (policy.maxDeliveries + 2);
      },
      { what: 'both messages to be redelivered past the bound without an ack', timeoutMs: 15_000 },
    );

    await pg.start();
    await waitFor(
      async () => {
        const info = await bus.admin.consumerInfo(def.stream, def.durableName);
        return info.pending === 0 && info.ackPending === 0;
      },
      { what: 'the consumer to catch up', timeoutMs: 15_000 },
    );
    // The good one was applied (not parked as exhausted: it is always applied first), the invalid one parked.
    const history = await bus.call(actionLogEndpoints.history, { patchId });
    expect(history.entries.map((e) => e.workId)).toEqual([good.workId]);
    const sql = testPool(pg.url('action_log'));
    try {
      const rows = (await sql.query<{ stream_seq: string; reason: string; deliveries: number }>('select * from parked_message'))
        .rows;
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ stream_seq: String(invalidSeq), reason: 'invalid' });
      expect(rows[0]?.deliveries).toBeGreaterThan(policy.maxDeliveries);
    } finally {
      await sql.end();
    }
  }, 60_000);
});
