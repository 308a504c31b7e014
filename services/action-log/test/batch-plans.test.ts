import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { workflowsFor } from '@patchflow/contracts';
import { waitFor } from '@patchflow/testing';
import { actionLogUnderTest, execution, step, workItem } from './fixtures.js';

/**
 * The projection's batch statements join the batch (one JSON document per statement) to the
 * tables. Postgres plans such a join for 100 rows of unknown keys, and with a real history that
 * became a hash join over a sequential scan of the whole table, per batch, growing with the
 * history (the update of the executions was one; the read of the settlement joined the work table
 * that way while the history was young, below ~5,000 work items). Every statement must reach the
 * rows it touches by key: after batches over a young history (1,000 executions and work items)
 * and over a larger one (12,000 executions), no table the projection reads or writes has been
 * scanned whole.
 */
const al = actionLogUnderTest({ database: 'action_log_plans', namespace: 'alplans' });
let db: pg.Client;

const TABLES = ['action_log_execution', 'action_log_execution_event', 'action_log_step', 'action_log_work'];

beforeAll(async () => {
  db = new pg.Client({ connectionString: al.db.url });
  await db.connect();
  // This test's own reads (the wait for the projection below) must not count as scans either.
  await db.query('SET enable_seqscan = off');
});

/**
 * Adds a history the planner knows about (ANALYZEd): `settled` settled transitions of 4
 * workflows, each with its outcome event and a step, and `unrouted` transitions routed nowhere.
 */
async function addHistory(settled: number, unrouted: number): Promise<void> {
  await db.query('DROP TABLE IF EXISTS history');
  await db.query(
    `CREATE TEMP TABLE history AS
       SELECT w.id AS work_id, f AS workflow, gen_random_uuid() AS patch_id
         FROM (SELECT gen_random_uuid() AS id FROM generate_series(1, $1::int)) w, unnest(ARRAY['gitlab', 'jira', 'slack', 'successor']) f`,
    [settled],
  );
  await db.query(
    `INSERT INTO action_log_work (work_id, patch_id, action, patch_version, transition, workflows, stream_seq)
     SELECT DISTINCT ON (work_id) work_id, patch_id, 'startDeployment', 3, '{}'::jsonb, '["gitlab","jira","slack","successor"]'::jsonb, 1 FROM history
     UNION ALL
     SELECT gen_random_uuid(), gen_random_uuid(), 'createPatch', 1, '{}'::jsonb, '[]'::jsonb, 1 FROM generate_series(1, $1::int)`,
    [unrouted],
  );
  await db.query(
    `INSERT INTO action_log_execution (work_id, workflow, patch_id, action, status, attempts, last_error, will_retry, dead_lettered, started_at, finished_at)
     SELECT work_id, workflow, patch_id, 'startDeployment', 'succeeded', 1, NULL, false, false, now(), now() FROM history`,
  );
  await db.query(
    `INSERT INTO action_log_execution_event (event_id, work_id, workflow, patch_id, status, attempt, error, will_retry, dead_lettered, at, stream_seq)
     SELECT gen_random_uuid(), work_id, workflow, patch_id, 'succeeded', 1, NULL, false, false, now(), 1 FROM history`,
  );
  await db.query(
    `INSERT INTO action_log_step (event_id, work_id, workflow, patch_id, attempt, subaction_type, message, metadata, at, stream_seq)
     SELECT gen_random_uuid(), work_id, workflow, patch_id, 1, 'patch.workflow.startDeployment.done', 'done', '{}', now(), 1 FROM history`,
  );
  // ANALYZE also makes the service's connections plan their prepared statements again.
  for (const t of TABLES) await db.query(`ANALYZE ${t}`);
}

afterAll(async () => {
  await db?.end();
});

async function scans(): Promise<Record<string, { seq: number; idx: number; updated: number }>> {
  await db.query('SELECT pg_stat_clear_snapshot()');
  const r = await db.query<{ relname: string; seq_scan: string; idx_scan: string | null; n_tup_upd: string }>(
    `SELECT relname, seq_scan, idx_scan, n_tup_upd FROM pg_stat_user_tables WHERE relname = ANY($1::text[])`,
    [TABLES],
  );
  return Object.fromEntries(
    r.rows.map((row) => [
      row.relname,
      { seq: Number(row.seq_scan), idx: Number(row.idx_scan ?? 0), updated: Number(row.n_tup_upd) },
    ]),
  );
}

async function batchesScanNoTable(): Promise<void> {
  // Statistics reach pg_stat_user_tables when a backend flushes them (at most every few seconds):
  // wait for the ANALYZE and inserts above to show, then take the counts.
  await waitFor(async () => ((await scans()).action_log_execution?.seq ?? -1) >= 0, {
    timeoutMs: 20_000,
    what: 'table statistics',
  });
  await new Promise((r) => setTimeout(r, 11_000));
  const before = await scans();

  const items = Array.from({ length: 12 }, () => workItem(randomUUID(), 'startDeployment', 'active', 'in_deployment', 3));
  await Promise.all(items.map((w) => al.publishWork(w)));
  for (const w of items) {
    for (const f of workflowsFor('startDeployment')) {
      await al.publishEvent(step(w, f, 'done'));
      await al.publishEvent(execution(w, f, 'succeeded'));
    }
  }
  await waitFor(
    async () => {
      const r = await db.query<{ n: string }>(
        `SELECT count(*) AS n FROM action_log_execution WHERE work_id = ANY($1::uuid[]) AND status = 'succeeded'`,
        [items.map((w) => w.workId)],
      );
      return Number(r.rows[0]!.n) === items.length * workflowsFor('startDeployment').length;
    },
    { timeoutMs: 20_000, what: 'every execution projected as succeeded' },
  );
  // The service's connections flush their statistics when idle (PGSTAT_IDLE_INTERVAL, 10 s).
  let after = before;
  await waitFor(
    async () => {
      after = await scans();
      return after.action_log_execution!.updated > before.action_log_execution!.updated;
    },
    { timeoutMs: 30_000, what: 'the projection’s statistics' },
  );
  await new Promise((r) => setTimeout(r, 1_500));
  after = await scans();
  const seqScans = Object.fromEntries(TABLES.map((t) => [t, after[t]!.seq - before[t]!.seq]));
  expect(seqScans, 'sequential scans per table').toEqual(Object.fromEntries(TABLES.map((t) => [t, 0])));
  expect(after.action_log_execution!.idx).toBeGreaterThan(before.action_log_execution!.idx);
}

it(
  'applies batches by key over a young history (1,000 executions and work items): no sequential scan',
  { timeout: 90_000 },
  async () => {
    await addHistory(250, 750);
    await batchesScanNoTable();
  },
);

it('applies batches by key over a larger history (12,000 executions): no sequential scan', { timeout: 90_000 }, async () => {
  // 3,000 settled transitions in all (the size at which the old update's join became a
  // sequential scan; far larger tables get the index again) and 9,000 routed nowhere.
  await addHistory(2750, 8250);
  await batchesScanNoTable();
});
