import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workflowNames } from '@patchflow/contracts';
import { buildWorkItem, createTestDatabase, testPool, waitFor, type TestDatabase } from '@patchflow/testing';
import { ExecutionStore, type ClaimResult } from '../src/index.js';

/**
 * The hot writes of concurrent executions share statements (batchers in execution-store.ts):
 * each caller must still get exactly the answer one statement of its own would have given.
 */
describe('ExecutionStore batching', () => {
  let db: TestDatabase;
  let store: ExecutionStore;
  let other: ExecutionStore;

  beforeAll(async () => {
    db = await createTestDatabase('wf_batching');
    store = await ExecutionStore.open(db.url, 'slack', 4);
    other = await ExecutionStore.open(db.url, 'slack', 4);
  });

  afterAll(async () => {
    await store?.close();
    await other?.close();
    await db?.drop();
  });

  it('concurrent claims, a repeat among them: each item claimed once, the repeat busy', async () => {
    const items = Array.from({ length: 40 }, () => buildWorkItem('markActive'));
    const repeat = items[7]!;
    const results = await Promise.all([...items, repeat].map((w) => store.claim(w, 30_000)));
    expect(results.slice(0, 40).every((r) => r.kind === 'claimed' && r.attempt === 1)).toBe(true);
    // The repeat leaves after the first claim of its item (a later statement): it finds the live lease.
    const busy = results[40] as ClaimResult;
    expect(busy.kind).toBe('busy');
    expect((busy as Extract<ClaimResult, { kind: 'busy' }>).retryInMs).toBeGreaterThan(25_000);
  });

  it('two stores (two instances) racing on the same items: exactly one wins each', async () => {
    const items = Array.from({ length: 30 }, () => buildWorkItem('startDeployment'));
    const [a, b] = await Promise.all([
      Promise.all(items.map((w) => store.claim(w, 30_000))),
      Promise.all(items.map((w) => other.claim(w, 30_000))),
    ]);
    items.forEach((_, i) => {
      expect([a[i]!.kind, b[i]!.kind].sort()).toEqual(['busy', 'claimed']);
    });
  });

  it('external refs and successes written together land on their own rows; a succeeded item is never claimed again', async () => {
    const items = Array.from({ length: 25 }, () => buildWorkItem('markActive'));
    await Promise.all(items.map((w) => store.claim(w, 30_000)));
    await Promise.all(
      items.flatMap((w, i) => [store.recordExternalRef(w.workId, { n: i }), store.recordExternalRef(w.workId, { m: i })]),
    );
    await Promise.all(items.map((w) => store.markSucceeded(w.workId)));
    for (const [i, w] of items.entries()) {
      const row = await store.get(w.workId);
      expect(row).toMatchObject({ status: 'succeeded', attempts: 1, externalRef: { n: i, m: i } });
    }
    const again = await Promise.all(items.map((w) => other.claim(w, 30_000)));
    expect(again.every((r) => r.kind === 'succeeded' && r.attempts === 1)).toBe(true);
  });

  it('a success with ids stores them in the same write, merged with the refs recorded before; batched with plain successes', async () => {
    const items = Array.from({ length: 20 }, () => buildWorkItem('startDeployment'));
    await Promise.all(items.map((w) => store.claim(w, 30_000)));
    await store.recordExternalRef(items[0]!.workId, { early: true });
    // Even items succeed with ids, odd ones without: one statement may carry both.
    await Promise.all(items.map((w, i) => store.markSucceeded(w.workId, i % 2 === 0 ? { successorId: `s-${i}` } : undefined)));
    for (const [i, w] of items.entries()) {
      const row = await store.get(w.workId);
      const expected = { ...(i === 0 ? { early: true } : {}), ...(i % 2 === 0 ? { successorId: `s-${i}` } : {}) };
      expect(row, `item ${i}`).toMatchObject({ status: 'succeeded', leaseUntil: null });
      expect(row?.externalRef, `item ${i}`).toEqual(expected);
    }
  });

  it('a retrying item is claimed again with the next attempt and its recorded refs', async () => {
    const w = buildWorkItem('markActive');
    await store.claim(w, 30_000);
    await store.recordExternalRef(w.workId, { pipelineId: 42 });
    await store.markRetrying(w.workId, 'boom');
    const [first, second] = await Promise.all([store.claim(w, 30_000), other.claim(w, 30_000)]);
    const claimed = [first, second].filter((r) => r?.kind === 'claimed');
    expect(claimed).toEqual([{ kind: 'claimed', attempt: 2, externalRef: { pipelineId: 42 } }]);
  });

  it('the stores of several workflows in one process (the workflow host) share the writes: one work item, one transaction per kind for all four', async () => {
    const stores = await Promise.all(workflowNames.map((w) => ExecutionStore.open(db.url, w, 4)));
    const pool = testPool(db.url);
    try {
      const work = buildWorkItem('startDeployment');
      // Rows written by one statement carry one transaction id (xmin).
      const transactions = async () =>
        (
          await pool.query<{ workflow: string; xmin: string }>(
            'SELECT workflow, xmin::text FROM workflow_execution WHERE work_id = $1 ORDER BY workflow',
            [work.workId],
          )
        ).rows;
      const claims = await Promise.all(stores.map((s) => s.claim(work, 30_000)));
      expect(claims.map((c) => c.kind)).toEqual(['claimed', 'claimed', 'claimed', 'claimed']);
      const claimed = await transactions();
      expect(claimed.map((r) => r.workflow)).toEqual([...workflowNames].sort());
      expect(new Set(claimed.map((r) => r.xmin)).size).toBe(1);

      // Each result lands on its own workflow's row, still in one write.
      await Promise.all(stores.map((s, i) => s.markSucceeded(work.workId, i % 2 === 0 ? { n: s.workflow } : undefined)));
      const done = await transactions();
      expect(new Set(done.map((r) => r.xmin)).size).toBe(1);
      for (const [i, s] of stores.entries()) {
        expect((await s.get(work.workId))?.externalRef, s.workflow).toEqual(i % 2 === 0 ? { n: s.workflow } : {});
      }
      // One workflow's external ids and another's success, in the same turn: one write, and only the
      // success changes a status (the ids leave their execution running, its lease as it was).
      const next = buildWorkItem('startDeployment');
      await Promise.all(stores.map((s) => s.claim(next, 30_000)));
      const leased = await stores[1]!.get(next.workId);
      await Promise.all([stores[0]!.markSucceeded(next.workId), stores[1]!.recordExternalRef(next.workId, { issue: 'PF-1' })]);
      const mixed = (
        await pool.query<{ workflow: string; xmin: string }>(
          'SELECT workflow, xmin::text FROM workflow_execution WHERE work_id = $1 AND workflow = ANY($2::text[])',
          [next.workId, [workflowNames[0], workflowNames[1]]],
        )
      ).rows;
      expect(mixed).toHaveLength(2);
      expect(new Set(mixed.map((r) => r.xmin)).size).toBe(1);
      expect(await stores[0]!.get(next.workId)).toMatchObject({ status: 'succeeded', leaseUntil: null, externalRef: {} });
      expect(await stores[1]!.get(next.workId)).toMatchObject({
        status: 'running',
        leaseUntil: leased?.leaseUntil,
        externalRef: { issue: 'PF-1' },
      });

      // Another workflow's success never touches this one's row: a new item claimed by slack alone stays running.
      const lone = buildWorkItem('markActive');
      await stores[3]!.claim(lone, 30_000);
      await stores[1]!.markSucceeded(lone.workId);
      expect((await stores[3]!.get(lone.workId))?.status).toBe('running');
      expect(await stores[1]!.get(lone.workId)).toBeUndefined();
    } finally {
      await Promise.all(stores.map((s) => s.close()));
      await pool.end();
    }
    // The pool outlives a closed store while another uses it: the file's own stores still work.
    expect((await store.claim(buildWorkItem('markActive'), 30_000)).kind).toBe('claimed');
  });

  it('reaches its rows by key on a large table, with the generic plans its connections use: no sequential scan', async () => {
    const pool = testPool(db.url);
    try {
      // 40,000 executions the planner knows about (ANALYZE), beside the file's own.
      await pool.query(
        `INSERT INTO workflow_execution (workflow, work_id, action, patch_id, status, attempts)
         SELECT f, gen_random_uuid(), 'markActive', gen_random_uuid(), 'succeeded', 1
           FROM generate_series(1, 10000), unnest(ARRAY['gitlab', 'jira', 'slack', 'successor']) f`,
      );
      await pool.query('ANALYZE workflow_execution');
      const scans = async () => {
        const r = await pool.query<{ seq: string; idx: string }>(
          `SELECT seq_scan::text AS seq, coalesce(idx_scan, 0)::text AS idx FROM pg_stat_user_tables WHERE relname = 'workflow_execution'`,
        );
        await pool.query('SELECT pg_stat_clear_snapshot()');
        return { seq: Number(r.rows[0]!.seq), idx: Number(r.rows[0]!.idx) };
      };
      // A store with a pool of its own, so closing it ends its connections, which report their
      // statistics as they exit.
      const own = await ExecutionStore.open(db.url, 'gitlab', 2);
      const before = await scans();
      // More than five of each statement per connection (when Postgres would first consider a generic plan).
      for (let round = 0; round < 12; round++) {
        const items = Array.from({ length: 3 }, () => buildWorkItem('startDeployment'));
        await Promise.all(items.map((w) => own.claim(w, 30_000)));
        await own.claim(items[0]!, 30_000);
        await Promise.all(items.map((w, i) => own.recordExternalRef(w.workId, { pipelineId: i })));
        await Promise.all(items.map((w) => own.markSucceeded(w.workId)));
      }
      await own.close();
      let after = before;
      await waitFor(
        async () => {
          after = await scans();
          return after.idx > before.idx;
        },
        { timeoutMs: 20_000, what: "the closed store's statistics" },
      );
      expect(after.seq - before.seq, 'sequential scans of workflow_execution').toBe(0);
    } finally {
      await pool.end();
    }
  });
});
