import type { ExecutionEvent, StepEvent, WorkflowEvent, WorkflowName, WorkItem } from '@patchflow/contracts';
import { foldExecution, type ExecutionFact } from './execution-fold.js';
import type { ActionLogOrm } from './orm.js';

/** What changed, for the live-update ping; undefined when the message was a duplicate. */
export interface ProjectionChange {
  patchId: string;
  workId: string;
  kind: 'work' | 'step' | 'execution';
  workflow?: WorkflowName;
}

/** One message to project, already checked against its contract. */
export type ProjectionInput = { kind: 'work'; item: WorkItem; streamSeq: number } | { kind: 'event'; event: WorkflowEvent; streamSeq: number };

/** The little of a `pg` client this file uses (the driver's own connection, out of MikroORM's pool). */
interface SqlClient {
  query(q: { name: string; text: string; values: unknown[] }): Promise<{ rows: Record<string, unknown>[]; rowCount: number | null }>;
  query(text: string): Promise<unknown>;
}

/**
 * Writes the projection, a batch of messages per transaction with set-based SQL (one statement
 * per table, rows bound as one JSON array). Every write is idempotent (ids are primary keys, inserts
 * ignore conflicts) and order-independent: the executions an inserted event touches are locked
 * (in key order, so concurrent batches never deadlock on each other), then re-folded from their
 * stored events once per batch — whoever folds last sees every event committed before it. So
 * redeliveries, replays, a live consumer and a rebuild running together, and events that overtake
 * their work item all converge on the same rows.
 *
 * Why not the unit of work: MikroORM's costs ~2 ms of CPU per transaction here (docs/FIELD-NOTES.md)
 * and inlines values into the SQL text; this takes the driver's connection from MikroORM's pool
 * (the same pool, the same settings) and runs named prepared statements whose text never changes
 * with the batch size, so each is parsed once per connection.
 */
export class Projection {
  constructor(private readonly orm: ActionLogOrm) {}

  /**
   * Applies `inputs` in one transaction; the result has one entry per input, in order (undefined:
   * a duplicate, nothing changed). Throws — and applies nothing — if any of them cannot be
   * applied; callers then apply them one by one to find the culprit.
   */
  async applyBatch(inputs: readonly ProjectionInput[]): Promise<(ProjectionChange | undefined)[]> {
    if (inputs.length === 0) return [];
    const knexClient = this.orm.em.getConnection().getKnex().client as {
      acquireConnection(): Promise<SqlClient>;
      releaseConnection(c: SqlClient): Promise<void>;
    };
    const client = await knexClient.acquireConnection();
    try {
      await client.query('begin');
      try {
        const changes = await write(client, inputs);
        await client.query('commit');
        return changes;
      } catch (err) {
        // A dead connection cannot roll back; the pool drops it (knex marks it disposed).
        await client.query('rollback').catch(() => undefined);
        throw err;
      }
    } finally {
      await knexClient.releaseConnection(client);
    }
  }
}

// Rows travel as one JSON array per statement (`jsonb_to_recordset`): one parameter that
// JSON.stringify encodes natively, instead of a text array literal per column built in JS.
const sql = {
  insertWork: `insert into action_log_work (work_id, patch_id, action, patch_version, transition, workflows, stream_seq)
    select * from jsonb_to_recordset($1::jsonb) r(work_id uuid, patch_id uuid, action varchar, patch_version int, transition jsonb, workflows jsonb, stream_seq bigint)
    on conflict (work_id) do nothing returning work_id`,
  insertStep: `insert into action_log_step (event_id, work_id, workflow, patch_id, attempt, subaction_type, message, metadata, at, stream_seq)
    select * from jsonb_to_recordset($1::jsonb) r(event_id uuid, work_id uuid, workflow varchar, patch_id uuid, attempt int, subaction_type varchar,
      message text, metadata jsonb, at timestamptz, stream_seq bigint)
    on conflict (event_id) do nothing returning event_id`,
  insertExecutionEvent: `insert into action_log_execution_event (event_id, work_id, workflow, patch_id, status, attempt, error, will_retry, dead_lettered, at, stream_seq)
    select * from jsonb_to_recordset($1::jsonb) r(event_id uuid, work_id uuid, workflow varchar, patch_id uuid, status varchar, attempt int, error text,
      will_retry bool, dead_lettered bool, at timestamptz, stream_seq bigint)
    on conflict (event_id) do nothing returning event_id`,
  // A pending execution per routed workflow (or per event whose work item has not arrived yet).
  ensureExecution: `insert into action_log_execution (work_id, workflow, patch_id, action, status, attempts, last_error, will_retry, dead_lettered, started_at, finished_at)
    select k.w, k.f, k.p, k.a, 'pending', 0, null, false, false, null, null from unnest($1::uuid[], $2::varchar[], $3::uuid[], $4::varchar[]) k(w, f, p, a)
    on conflict (work_id, workflow) do nothing`,
  // Its own statement: the reads below then take a snapshot after the locks are granted.
  lockExecutions: `select 1 from action_log_execution x join unnest($1::uuid[], $2::varchar[]) k(w, f) on x.work_id = k.w and x.workflow = k.f
    order by x.work_id, x.workflow for update of x`,
  // Every stored execution event of the locked executions, and the highest attempt of their steps.
  readFacts: `select e.work_id, e.workflow, e.event_id, e.status, e.attempt, e.error, e.will_retry, e.dead_lettered,
      (extract(epoch from e.at) * 1000)::float8 as at_ms, e.stream_seq::float8 as seq
    from action_log_execution_event e join unnest($1::uuid[], $2::varchar[]) k(w, f) on e.work_id = k.w and e.workflow = k.f
    union all
    select s.work_id, s.workflow, null, null, max(s.attempt), null, null, null, null, null
    from action_log_step s join unnest($1::uuid[], $2::varchar[]) k(w, f) on s.work_id = k.w and s.workflow = k.f
    group by s.work_id, s.workflow`,
  updateExecutions: `update action_log_execution x set status = u.status, attempts = u.attempts, last_error = u.last_error,
      will_retry = u.will_retry, dead_lettered = u.dead_lettered, started_at = u.started_at, finished_at = u.finished_at
    from jsonb_to_recordset($1::jsonb) u(w uuid, f varchar, status varchar, attempts int, last_error text, will_retry bool, dead_lettered bool,
      started_at timestamptz, finished_at timestamptz)
    where x.work_id = u.w and x.workflow = u.f`,
} as const;

const run = (client: SqlClient, name: keyof typeof sql, values: unknown[]) => client.query({ name: `action_log_${name}`, text: sql[name], values });
const rows = (client: SqlClient, name: keyof typeof sql, records: object[]) => run(client, name, [JSON.stringify(records)]);

const byKey = <T>(key: (t: T) => string) => (a: T, b: T) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);
const execKey = (workId: string, workflow: string) => `${workId}/${workflow}`;

/** Rows of one kind, deduplicated by id (the first — lowest stream sequence — wins) and sorted by it. */
function unique<T>(rows: T[], id: (t: T) => string): T[] {
  const seen = new Map<string, T>();
  for (const r of rows) if (!seen.has(id(r))) seen.set(id(r), r);
  return [...seen.values()].sort(byKey(id));
}

async function write(client: SqlClient, inputs: readonly ProjectionInput[]): Promise<(ProjectionChange | undefined)[]> {
  const ordered = [...inputs].sort((a, b) => a.streamSeq - b.streamSeq);
  const works = unique(
    ordered.flatMap((i) => (i.kind === 'work' ? [i] : [])),
    (w) => w.item.workId,
  );
  const steps = unique(
    ordered.flatMap((i) => (i.kind === 'event' && i.event.kind === 'step' ? [{ e: i.event, seq: i.streamSeq }] : [])),
    (s) => s.e.eventId,
  ) as { e: StepEvent; seq: number }[];
  const execEvents = unique(
    ordered.flatMap((i) => (i.kind === 'event' && i.event.kind === 'execution' ? [{ e: i.event, seq: i.streamSeq }] : [])),
    (s) => s.e.eventId,
  ) as { e: ExecutionEvent; seq: number }[];

  const insertedWork = new Set<string>();
  if (works.length > 0) {
    const r = await rows(
      client,
      'insertWork',
      works.map((w) => ({
        work_id: w.item.workId,
        patch_id: w.item.patch.id,
        action: w.item.transition.action,
        patch_version: w.item.transition.patchVersion,
        transition: w.item.transition,
        workflows: w.item.workflows,
        stream_seq: w.streamSeq,
      })),
    );
    for (const row of r.rows) insertedWork.add(row.work_id as string);
  }
  const insertedEvents = new Set<string>();
  if (steps.length > 0) {
    const r = await rows(
      client,
      'insertStep',
      steps.map(({ e, seq }) => ({
        event_id: e.eventId,
        work_id: e.workId,
        workflow: e.workflow,
        patch_id: e.patchId,
        attempt: e.attempt,
        subaction_type: e.subactionType,
        message: e.message,
        metadata: e.metadata,
        at: e.at,
        stream_seq: seq,
      })),
    );
    for (const row of r.rows) insertedEvents.add(row.event_id as string);
  }
  if (execEvents.length > 0) {
    const r = await rows(
      client,
      'insertExecutionEvent',
      execEvents.map(({ e, seq }) => ({
        event_id: e.eventId,
        work_id: e.workId,
        workflow: e.workflow,
        patch_id: e.patchId,
        status: e.status,
        attempt: e.attempt,
        error: e.error ?? null,
        will_retry: e.willRetry,
        dead_lettered: e.deadLettered,
        at: e.at,
        stream_seq: seq,
      })),
    );
    for (const row of r.rows) insertedEvents.add(row.event_id as string);
  }

  // Executions: every routed workflow of every work item (a duplicate work item included, as
  // before), and every execution a newly stored event belongs to.
  const newEvents = [...steps, ...execEvents].filter((s) => insertedEvents.has(s.e.eventId)).map((s) => s.e);
  const ensure = unique(
    [
      ...works.flatMap((w) =>
        w.item.workflows.map((workflow) => ({ workId: w.item.workId, workflow, patchId: w.item.patch.id, action: w.item.transition.action })),
      ),
      ...newEvents.map((e) => ({ workId: e.workId, workflow: e.workflow, patchId: e.patchId, action: e.action })),
    ],
    (k) => execKey(k.workId, k.workflow),
  );
  if (ensure.length > 0) {
    await run(client, 'ensureExecution', [ensure.map((k) => k.workId), ensure.map((k) => k.workflow), ensure.map((k) => k.patchId), ensure.map((k) => k.action)]);
  }

  const touched = unique(
    newEvents.map((e) => ({ workId: e.workId, workflow: e.workflow })),
    (k) => execKey(k.workId, k.workflow),
  );
  if (touched.length > 0) await refold(client, touched);

  return inputs.map((i): ProjectionChange | undefined => {
    if (i.kind === 'work') {
      // Only the first copy of a work item in the batch reports the change.
      return insertedWork.delete(i.item.workId) ? { patchId: i.item.patch.id, workId: i.item.workId, kind: 'work' } : undefined;
    }
    const e = i.event;
    return insertedEvents.delete(e.eventId) ? { patchId: e.patchId, workId: e.workId, kind: e.kind, workflow: e.workflow } : undefined;
  });
}

/**
 * Recomputes the summaries of `keys` (sorted) from all their stored events: locks the rows, reads
 * the events and step attempts of all of them in one statement, folds each (a pure function of
 * the set, see execution-fold.ts) and writes them back in one statement.
 */
async function refold(client: SqlClient, keys: { workId: string; workflow: WorkflowName }[]): Promise<void> {
  const workIds = keys.map((k) => k.workId);
  const workflows = keys.map((k) => k.workflow);
  await run(client, 'lockExecutions', [workIds, workflows]);
  const { rows: stored } = await run(client, 'readFacts', [workIds, workflows]);
  const facts = new Map<string, ExecutionFact[]>();
  const stepAttempts = new Map<string, number>();
  for (const row of stored) {
    const key = execKey(row.work_id as string, row.workflow as string);
    if (row.event_id === null) {
      stepAttempts.set(key, Number(row.attempt ?? 0));
      continue;
    }
    const list = facts.get(key) ?? [];
    list.push({
      eventId: row.event_id as string,
      status: row.status as ExecutionFact['status'],
      attempt: Number(row.attempt),
      error: (row.error as string | null) ?? null,
      willRetry: row.will_retry as boolean,
      deadLettered: row.dead_lettered as boolean,
      at: new Date(Math.round(Number(row.at_ms))),
      streamSeq: Number(row.seq),
    });
    facts.set(key, list);
  }
  const summaries = keys.map((k) => {
    const key = execKey(k.workId, k.workflow);
    return foldExecution(facts.get(key) ?? [], stepAttempts.get(key) ?? 0);
  });
  await rows(
    client,
    'updateExecutions',
    summaries.map((x, i) => ({ w: workIds[i], f: workflows[i], ...snake(x) })),
  );
}

function snake(x: ReturnType<typeof foldExecution>) {
  return {
    status: x.status,
    attempts: x.attempts,
    last_error: x.lastError,
    will_retry: x.willRetry,
    dead_lettered: x.deadLettered,
    started_at: x.startedAt,
    finished_at: x.finishedAt,
  };
}
