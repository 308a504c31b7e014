import { randomUUID } from 'node:crypto';
import { MikroORM } from '@mikro-orm/postgresql';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecutionEvent, StepEvent, WorkItem } from '@patchflow/contracts';
import { createLogger } from '@patchflow/log';
import { createTestDatabase, testLogLevel, type TestDatabase } from '@patchflow/testing';
import { entities } from '../src/entities/index.js';
import { openActionLogOrm, type ActionLogOrm } from '../src/orm.js';
import { Projection, type ProjectionInput } from '../src/projection.js';
import { workItem } from './fixtures.js';

/**
 * An execution's summary is folded in SQL (projection.ts, foldExecutions) from every stored event
 * and step of it, so it must depend on the set of events only: whatever order they arrive in,
 * however they are batched, and when two action-log instances apply them at the same time.
 */
let database: TestDatabase;
const orms: ActionLogOrm[] = [];
let projection: Projection;
let db: pg.Client;

beforeAll(async () => {
  database = await createTestDatabase('action_log_fold');
  const logger = createLogger('fold-test', testLogLevel);
  for (let i = 0; i < 2; i++) orms.push(await openActionLogOrm(database.url, logger));
  projection = new Projection(orms[0]!);
  db = new pg.Client({ connectionString: database.url });
  await db.connect();
});

afterAll(async () => {
  await db?.end();
  for (const orm of orms) await orm.close();
  await database?.drop();
});

const T0 = Date.parse('2026-11-27T10:00:00.000Z');
const time = (ms: number) => new Date(T0 + ms);
let seq = 0;

/** One execution's inputs, built against one work item (a fresh one per scenario). */
function scenario() {
  const work = workItem(randomUUID(), 'markActive', 'draft', 'active', 2);
  const base = { workId: work.workId, patchId: work.patch.id, action: work.transition.action, workflow: 'gitlab' as const };
  return {
    work,
    input: (event: ExecutionEvent | StepEvent): ProjectionInput => ({ kind: 'event', event, streamSeq: ++seq }),
    workInput: (): ProjectionInput => ({ kind: 'work', item: work, streamSeq: ++seq }),
    exec: (
      status: ExecutionEvent['status'],
      attempt: number,
      atMs: number,
      extra: Partial<ExecutionEvent> = {},
    ): ExecutionEvent => ({
      kind: 'execution',
      eventId: randomUUID(),
      ...base,
      attempt,
      at: time(atMs).toISOString(),
      status,
      willRetry: false,
      deadLettered: false,
      ...extra,
    }),
    step: (attempt: number, atMs: number): StepEvent => ({
      kind: 'step',
      eventId: randomUUID(),
      ...base,
      attempt,
      at: time(atMs).toISOString(),
      subactionType: 'patch.workflow.markActive.triggerPipeline',
      message: `pipeline triggered (attempt ${attempt})`,
      metadata: {},
    }),
  };
}

interface Row {
  status: string;
  attempts: number;
  last_error: string | null;
  will_retry: boolean;
  dead_lettered: boolean;
  started_at: Date | null;
  finished_at: Date | null;
}

async function summary(work: WorkItem): Promise<Row> {
  const r = await db.query<Row>(
    `SELECT status, attempts, last_error, will_retry, dead_lettered, started_at, finished_at
       FROM action_log_execution WHERE work_id = $1 AND workflow = 'gitlab'`,
    [work.workId],
  );
  if (r.rows.length !== 1) throw new Error(`expected one gitlab execution of ${work.workId}, got ${r.rows.length}`);
  return r.rows[0]!;
}

/** The summary after applying `events` in this order, each in its own transaction. */
async function foldOneByOne(s: ReturnType<typeof scenario>, events: (ExecutionEvent | StepEvent)[]): Promise<Row> {
  await projection.applyBatch([s.workInput()]);
  for (const e of events) await projection.applyBatch([s.input(e)]);
  return summary(s.work);
}

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
}

/** Every order of `make()`'s events, one by one, and all of them in one batch: one summary. */
async function foldEveryOrder(make: (s: ReturnType<typeof scenario>) => (ExecutionEvent | StepEvent)[]): Promise<Row> {
  const first = scenario();
  const n = make(first).length;
  const rows: Row[] = [];
  for (const order of permutations([...Array(n).keys()])) {
    const s = scenario();
    const events = make(s);
    rows.push(
      await foldOneByOne(
        s,
        order.map((i) => events[i]!),
      ),
    );
  }
  await projection.applyBatch([first.workInput(), ...make(first).map(first.input)]);
  rows.push(await summary(first.work));
  for (const r of rows) expect(r).toEqual(rows[0]);
  return rows[0]!;
}

describe('the execution summary, folded in SQL', () => {
  it('is pending without events, running with only steps', async () => {
    const s = scenario();
    expect(await foldOneByOne(s, [])).toMatchObject({ status: 'pending', attempts: 0, started_at: null, finished_at: null });
    const t = scenario();
    expect(await foldOneByOne(t, [t.step(1, 0)])).toMatchObject({ status: 'running', attempts: 1, started_at: null });
  });

  it('keeps the last error after a retry succeeded, whatever the order and batching', async () => {
    const row = await foldEveryOrder((s) => [
      s.exec('running', 1, 0),
      s.exec('failed', 1, 10, { error: 'HTTP 502 from GitLab', willRetry: true }),
      s.step(2, 15),
      s.exec('running', 2, 20),
      s.exec('succeeded', 2, 30),
    ]);
    expect(row).toEqual({
      status: 'succeeded',
      attempts: 2,
      last_error: 'HTTP 502 from GitLab',
      will_retry: false,
      dead_lettered: false,
      started_at: time(0),
      finished_at: time(30),
    });
  });

  it('orders an outcome after running in the same millisecond', async () => {
    const row = await foldEveryOrder((s) => [s.exec('succeeded', 1, 5), s.exec('running', 1, 5)]);
    expect(row).toMatchObject({ status: 'succeeded', finished_at: time(5) });
    const failed = await foldEveryOrder((s) => [
      s.exec('failed', 1, 5, { error: 'HTTP 500', willRetry: true }),
      s.exec('running', 1, 5),
    ]);
    expect(failed).toMatchObject({ status: 'failed', will_retry: true, last_error: 'HTTP 500' });
  });

  it('reports a waiting retry as failed without a finish time, and a dead letter as final', async () => {
    const s = scenario();
    expect(await foldOneByOne(s, [s.exec('failed', 1, 0, { error: 'x', willRetry: true })])).toMatchObject({
      status: 'failed',
      will_retry: true,
      finished_at: null,
    });
    const d = scenario();
    expect(await foldOneByOne(d, [d.exec('failed', 3, 7, { error: 'gave up', deadLettered: true })])).toMatchObject({
      status: 'failed',
      attempts: 3,
      dead_lettered: true,
      last_error: 'gave up',
      finished_at: time(7),
    });
  });

  it('treats steps of a newer attempt as running, keeping the last error', async () => {
    const row = await foldEveryOrder((s) => [s.exec('failed', 1, 0, { error: 'x', willRetry: true }), s.step(2, 10)]);
    expect(row).toMatchObject({ status: 'running', attempts: 2, last_error: 'x', will_retry: false, finished_at: null });
  });

  it("takes an outcome's startedAt as the start when no running event was sent, whatever the order", async () => {
    const row = await foldEveryOrder((s) => [
      s.exec('failed', 1, 40, { error: 'HTTP 502', willRetry: true, startedAt: time(10).toISOString() }),
      s.exec('succeeded', 2, 90, { startedAt: time(60).toISOString() }),
    ]);
    expect(row).toMatchObject({ status: 'succeeded', attempts: 2, started_at: time(10), finished_at: time(90) });
    // A quick attempt: its outcome alone, with its step (no running event) — finished, not running.
    const q = scenario();
    expect(
      await foldOneByOne(q, [q.step(1, 21), q.exec('succeeded', 1, 25, { startedAt: time(20).toISOString() })]),
    ).toMatchObject({
      status: 'succeeded',
      started_at: time(20),
      finished_at: time(25),
    });
  });

  it('folds events without startedAt as before: the first running event is the start, else the first event', async () => {
    const s = scenario();
    expect(await foldOneByOne(s, [s.exec('skipped', 1, 5)])).toMatchObject({ status: 'skipped', started_at: time(5) });
    // A running event of a slow attempt, sent after the delay, says when its attempt really started.
    const late = scenario();
    expect(await foldOneByOne(late, [late.exec('running', 1, 250, { startedAt: time(0).toISOString() })])).toMatchObject({
      status: 'running',
      started_at: time(0),
      finished_at: null,
    });
  });

  it('converges when two action-log instances apply the events of one execution at the same time', async () => {
    const other = new Projection(orms[1]!);
    for (let round = 0; round < 20; round++) {
      const s = scenario();
      const events = [
        s.exec('running', 1, 0),
        s.step(1, 2),
        s.exec('failed', 1, 10, { error: `HTTP 503 (round ${round})`, willRetry: true }),
        s.exec('running', 2, 20),
        s.step(2, 22),
        s.exec('succeeded', 2, 30),
      ];
      await projection.applyBatch([s.workInput()]);
      // Each instance gets every other event, each event in its own transaction, all at once.
      await Promise.all(events.map((e, i) => (i % 2 === 0 ? projection : other).applyBatch([s.input(e)])));
      expect(await summary(s.work)).toEqual({
        status: 'succeeded',
        attempts: 2,
        last_error: `HTTP 503 (round ${round})`,
        will_retry: false,
        dead_lettered: false,
        started_at: time(0),
        finished_at: time(30),
      });
    }
  });
});

describe('the prepared statements', () => {
  it('are prepared again on a connection where an earlier attempt prepared only some of them', async () => {
    // One connection, so the second batch runs where the first one failed.
    const single = await MikroORM.init({
      clientUrl: database.url,
      entities,
      allowGlobalContext: false,
      pool: { min: 0, max: 1 },
    });
    orms.push(single);
    const p = new Projection(single);
    const s = scenario();
    // The step table is away: the statements before its one get prepared, its own fails.
    await db.query('ALTER TABLE action_log_step RENAME TO action_log_step_away');
    try {
      await expect(p.applyBatch([s.workInput(), s.input(s.step(1, 0))])).rejects.toThrow(/action_log_step/);
    } finally {
      await db.query('ALTER TABLE action_log_step_away RENAME TO action_log_step');
    }
    await p.applyBatch([s.workInput(), s.input(s.step(1, 0)), s.input(s.exec('succeeded', 1, 5))]);
    expect(await summary(s.work)).toMatchObject({ status: 'succeeded', attempts: 1 });
  });
});
