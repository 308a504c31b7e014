import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actionLogEndpoints } from '@patchflow/contracts';
import { PrivatePostgres, testPool, waitFor } from '@patchflow/testing';
import type { PoisonPolicy } from '../src/index.js';
import { actionLogUnderTest, workItem } from './fixtures.js';

// Retries use up their deliveries well within the outage below.
const policy: PoisonPolicy = { maxDeliveries: 3, retryBaseMs: 50, retryMaxMs: 200 };

let pg: PrivatePostgres;

describe.skipIf(!PrivatePostgres.available)('while Postgres is down', () => {
  beforeAll(async () => {
    pg = await PrivatePostgres.create();
  }, 60_000);

  afterAll(async () => {
    await pg?.destroy();
  });

  // Started after the private Postgres, stopped before it goes.
  const actionLog = actionLogUnderTest(
    { namespace: 'aloutage' },
    { databaseUrl: () => pg.url('action_log'), poisonPolicy: policy },
  );
  const { publishWork } = actionLog;

  it('acknowledges nothing it could neither apply nor park, and catches up when Postgres is back', async () => {
    await pg.stop();
    const patchId = randomUUID();
    const good = workItem(patchId, 'markActive', 'draft', 'active', 2);
    await publishWork(good);
    const invalidSeq = (await actionLog.bus.publish(actionLog.bus.topology.work('markActive'), { workId: 'not-a-uuid' })).seq;

    const def = actionLog.bus.topology.actionLogConsumers().work;
    // Both are delivered again and again, far past ACTION_LOG_MAX_DELIVERIES, and never acked.
    await waitFor(
      async () => {
        const info = await actionLog.bus.admin.consumerInfo(def.stream, def.durableName);
        return info.redelivered === 2 && info.ackPending === 2 && info.delivered >= 2 * (policy.maxDeliveries + 2);
      },
      { what: 'both messages to be redelivered past the bound without an ack', timeoutMs: 15_000 },
    );

    await pg.start();
    await waitFor(
      async () => {
        const info = await actionLog.bus.admin.consumerInfo(def.stream, def.durableName);
        return info.pending === 0 && info.ackPending === 0;
      },
      { what: 'the consumer to catch up', timeoutMs: 15_000 },
    );
    // The good one was applied (not parked as exhausted: it is always applied first), the invalid one parked.
    const history = await actionLog.bus.call(actionLogEndpoints.history, { patchId });
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
