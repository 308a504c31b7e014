import {
  settlementOf,
  type EffectState,
  type ExecutionEvent,
  type ExecutionViewStatus,
  type StepEvent,
  type WorkflowEvent,
  type WorkflowName,
  type WorkItem,
} from '@patchflow/contracts';
import type { ActionLogOrm } from './orm.js';

/** What changed, for the live-update ping; undefined when the message was a duplicate. */
export interface ProjectionChange {
  patchId: string;
  workId: string;
  kind: 'work' | 'step' | 'execution';
  workflow?: WorkflowName;
  /** The work item's settlement as this batch left it (settlementOf over its executions). */
  settled: boolean;
  effects: EffectState;
}

/** One message to project, already checked against its contract. */
export type ProjectionInput =
  { kind: 'work'; item: WorkItem; streamSeq: number } | { kind: 'event'; event: WorkflowEvent; streamSeq: number };

/** The little of a `pg` client this file uses (the driver's own connection, out of MikroORM's pool). */
interface SqlClient {
  /** Several statements separated by `;` resolve to one result per statement. */
  query(text: string): Promise<unknown>;
}

/**
 * Writes the projection, a batch of messages per transaction with set-based SQL (one statement
 * per table, its rows as one JSON document). Every write is idempotent (ids are primary keys, inserts
 * ignore conflicts) and order-independent: the executions an inserted event touches are locked
 * (in key order, so concurrent batches never deadlock on each other), then re-folded from their
 * stored events once per batch — whoever folds last sees every event committed before it. So
 * redeliveries, replays, a live consumer and a rebuild running together, and events that overtake
 * their work item all converge on the same rows.
 *
 * Why not the unit of work: MikroORM's costs ~2 ms of CPU per transaction here (docs/FIELD-NOTES.md).
 * This takes the driver's connection from MikroORM's pool (the same pool, the same settings) and
 * sends a whole batch as one multi-statement round trip — `begin`, the inserts, the lock, the fold
 * (in SQL: foldExecutions), `commit` and the read of the settlement — since per statement round
 * trips, not the statements themselves, dominated the cost of the small batches a quiet system
 * makes. Each statement still runs with its own snapshot, so the fold sees everything committed
 * before the lock was granted.
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
      return await write(client, inputs);
    } catch (err) {
      // Outside a transaction (it failed before `begin`) this is a mere warning; a dead connection
      // cannot roll back, and the pool drops it (knex marks it disposed).
      await client.query('rollback').catch(() => undefined);
      throw err;
    } finally {
      await knexClient.releaseConnection(client);
    }
  }
}

// Rows travel as one JSON document per statement (`jsonb_to_recordset`), inlined as a string
// literal: the multi-statement (simple) protocol takes no parameters. An escape string (E'…')
// with backslashes and quotes doubled reads back exactly, whatever standard_conforming_strings says.
const literal = (records: unknown[]) => `E'${JSON.stringify(records).replace(/\\/g, '\\\\').replace(/'/g, "''")}'::jsonb`;

/**
 * The work ids of a batch as a uuid array literal. Joins against `jsonb_to_recordset` alone are
 * planned for 100 rows of unknown keys: a hash join over a sequential scan of the whole table
 * (~1 ms per batch at 6,000 executions, growing with the history). `work_id = any($n)` beside
 * the join is planned for a few keys (ten, in a generic plan) and uses the index. Ids are checked
 * before they are inlined (they already passed the contracts' Uuid schema).
 */
const uuidArray = (ids: Iterable<string>) => {
  const unique = [...new Set(ids)];
  for (const id of unique)
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) throw new Error(`not a uuid: ${id}`);
  return `'{${unique.join(',')}}'::uuid[]`;
};

/** Execution events, newest first: the order the fold reads them in (foldExecutions). */
const FACT_ORDER = `ev.at desc, ev.attempt desc, case ev.status when 'running' then 0 when 'failed' then 1 else 2 end desc,
  ev.stream_seq desc, ev.event_id desc`;

/**
 * The batch's statements (parameter types, text), prepared once per connection (PREPARE, then
 * EXECUTE with the values inlined): sent as text with their values, each was parsed and planned
 * on every call, and planning the joins against the batch took as long as running them. A
 * prepared statement runs its generic plan, made once per connection (BY_KEY_PLANS); Postgres
 * makes it again by itself after DDL (a rebuild's swap) or an ANALYZE, and resolves its tables by
 * the `search_path` of the connection (a rebuild's connections reach the shadow tables).
 */
const sql = {
  insertWork: {
    params: 'jsonb',
    text: `insert into action_log_work (work_id, patch_id, action, patch_version, transition, workflows, stream_seq, trace_id)
    select * from jsonb_to_recordset($1) r(work_id uuid, patch_id uuid, action varchar, patch_version int, transition jsonb, workflows jsonb, stream_seq bigint,
      trace_id varchar)
    on conflict (work_id) do nothing returning work_id`,
  },
  insertStep: {
    params: 'jsonb',
    text: `insert into action_log_step (event_id, work_id, workflow, patch_id, attempt, subaction_type, message, metadata, at, stream_seq)
    select * from jsonb_to_recordset($1) r(event_id uuid, work_id uuid, workflow varchar, patch_id uuid, attempt int, subaction_type varchar,
      message text, metadata jsonb, at timestamptz, stream_seq bigint)
    on conflict (event_id) do nothing returning event_id`,
  },
  insertExecutionEvent: {
    params: 'jsonb',
    text: `insert into action_log_execution_event (event_id, work_id, workflow, patch_id, status, attempt, error, will_retry, dead_lettered, at, stream_seq,
      started_at)
    select * from jsonb_to_recordset($1) r(event_id uuid, work_id uuid, workflow varchar, patch_id uuid, status varchar, attempt int, error text,
      will_retry bool, dead_lettered bool, at timestamptz, stream_seq bigint, started_at timestamptz)
    on conflict (event_id) do nothing returning event_id`,
  },
  // A pending execution per routed workflow (or per event whose work item has not arrived yet).
  ensureExecution: {
    params: 'jsonb',
    text: `insert into action_log_execution (work_id, workflow, patch_id, action, status, attempts, last_error, will_retry, dead_lettered, started_at, finished_at)
    select k.w, k.f, k.p, k.a, 'pending', 0, null, false, false, null, null from jsonb_to_recordset($1) k(w uuid, f varchar, p uuid, a varchar)
    on conflict (work_id, workflow) do nothing`,
  },
  // Its own statement: the fold below then takes a snapshot after the locks are granted.
  lockExecutions: {
    params: 'jsonb, uuid[]',
    text: `select 1 from action_log_execution x join jsonb_to_recordset($1) k(w uuid, f varchar) on x.work_id = k.w and x.workflow = k.f
    where x.work_id = any($2)
    order by x.work_id, x.workflow for update of x`,
  },
  // Each locked execution's summary, folded from every stored event and step of it: a pure
  // function of the set, so whatever order events arrive in, and a rebuild, give the same row.
  // Its own statement after the lock, so its snapshot sees every event committed before the lock
  // was granted (and this transaction's inserts). Events sort by time, attempt, `running` before
  // an outcome of the same millisecond, stream sequence, event id (FACT_ORDER, newest first):
  // - no event: `pending`, or `running` if a step was logged;
  // - a step of a newer attempt than the latest event, or a latest `running`: `running`;
  // - else the latest event's outcome, finished at its time unless it is a failure that will retry.
  // attempts: the highest attempt of any event or step; last_error: the newest failure's error;
  // started_at: the earliest attempt start an event gives (its `started_at`, or a `running`
  // event's time), else the first event's time.
  foldExecutions: {
    params: 'jsonb, uuid[]',
    text: `update action_log_execution x set status = f.status, attempts = f.attempts, last_error = f.last_error,
      will_retry = f.will_retry, dead_lettered = f.dead_lettered, started_at = f.started_at, finished_at = f.finished_at
    from (
      select k.w, k.f,
        case when a.status is null then case when s.attempt > 0 then 'running' else 'pending' end
             when r.running then 'running' else a.status end as status,
        greatest(s.attempt, a.attempt, 0) as attempts,
        a.last_error,
        coalesce(not r.running and a.will_retry, false) as will_retry,
        coalesce(not r.running and a.dead_lettered, false) as dead_lettered,
        coalesce(a.earliest_start, a.first_at) as started_at,
        case when not r.running and not (a.status = 'failed' and a.will_retry) then a.at end as finished_at
      from jsonb_to_recordset($1) k(w uuid, f varchar)
      cross join lateral (select max(st.attempt) as attempt from action_log_step st
        where st.work_id = k.w and st.workflow = k.f) s
      -- One pass over the execution's events: the latest one's fields ([1] of each, newest first).
      cross join lateral (select max(ev.attempt) as attempt, min(ev.at) as first_at,
          min(coalesce(ev.started_at, case when ev.status = 'running' then ev.at end)) as earliest_start,
          (array_agg(ev.status order by ${FACT_ORDER}))[1] as status,
          (array_agg(ev.attempt order by ${FACT_ORDER}))[1] as latest_attempt,
          (array_agg(ev.will_retry order by ${FACT_ORDER}))[1] as will_retry,
          (array_agg(ev.dead_lettered order by ${FACT_ORDER}))[1] as dead_lettered,
          (array_agg(ev.at order by ${FACT_ORDER}))[1] as at,
          (array_agg(ev.error order by ${FACT_ORDER}) filter (where ev.status = 'failed' and ev.error <> ''))[1] as last_error
        from action_log_execution_event ev where ev.work_id = k.w and ev.workflow = k.f) a
      cross join lateral (select a.status = 'running' or coalesce(s.attempt, 0) > a.latest_attempt as running) r
    ) f
    where x.work_id = f.w and x.workflow = f.f and x.work_id = any($2)`,
  },
  // The executions of the batch's work items, for the pings' settlement: right after the commit,
  // in the same round trip (no extra one). Two batches committing together may each miss the
  // other's change, but the later of the two reads sees both: one of their pings says settled.
  readSettlement: {
    params: 'uuid[]',
    text: `select x.work_id, x.workflow, x.status, x.will_retry, (extract(epoch from x.finished_at) * 1000)::float8 as finished_ms,
      w.work_id is not null as known
    from action_log_execution x
    left join action_log_work w on w.work_id = x.work_id
    where x.work_id = any($1)`,
  },
} as const;

/** A statement's prepared name: `insertWork` → `action_log_insert_work`. */
const statementName = (key: keyof typeof sql) => `action_log_${key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`;

/**
 * How these transactions plan (`set local`: the settings end with them, and the connection goes
 * back to MikroORM's pool as it was):
 * - Generic plans. Postgres keeps planning a prepared statement for each call when that plan
 *   (which sees the batch's few ids) is estimated cheaper than the generic one (which assumes
 *   ten): always, for batches of a few transitions.
 * - No sequential scans. Every statement here touches a few rows by key, but below a few
 *   thousand rows the planner prices a scan of the whole table under the index (it assumes pages
 *   come from disk), and the scan grows with every transition until the plan flips: on a young
 *   history the read of the settlement alone scanned the work items for 0.3 ms per settled
 *   transition (bench:e2e), and the lock and the fold scanned the executions.
 * services/action-log/test/batch-plans.test.ts checks both on a young and a larger history.
 */
const BY_KEY_PLANS = ['set local plan_cache_mode = force_generic_plan', 'set local enable_seqscan = off'];

/** The connections (of MikroORM's pool) known to hold every statement of `sql`, prepared. */
const preparedOn = new WeakSet<SqlClient>();

/**
 * Prepares on `client` what it lacks (it may hold some: PREPARE is not undone by a rollback, so
 * a failed attempt can leave part of them): two round trips before a connection's first batch
 * (what it holds, then the rest), none after.
 */
async function prepare(client: SqlClient): Promise<void> {
  if (preparedOn.has(client)) return;
  const names = Object.keys(sql) as (keyof typeof sql)[];
  const held = new Set(
    (
      (await client.query(`select name from pg_prepared_statements where name like 'action\\_log\\_%'`)) as { rows: Row[] }
    ).rows.map((r) => r.name as string),
  );
  const missing = names.filter((key) => !held.has(statementName(key)));
  if (missing.length > 0) {
    await script(
      client,
      missing.map((key) => {
        return `prepare ${statementName(key)}(${sql[key].params}) as ${sql[key].text}`;
      }),
    );
  }
  preparedOn.add(client);
}

/** `execute` of a prepared statement of `sql`, with its values (SQL literals) inlined. */
const execute = (key: keyof typeof sql, ...values: string[]) => `execute ${statementName(key)}(${values.join(', ')})`;

type Row = Record<string, unknown>;

/** Sends `statements` as one query string; the rows of each, in order. */
async function script(client: SqlClient, statements: string[]): Promise<Row[][]> {
  const result = (await client.query(statements.join(';\n'))) as { rows: Row[] } | { rows: Row[] }[];
  return Array.isArray(result) ? result.map((r) => r.rows) : [result.rows];
}

const byKey =
  <T>(key: (t: T) => string) =>
  (a: T, b: T) =>
    key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;
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

  // Executions: every routed workflow of every work item (a duplicate work item included), and
  // the execution of every event (for a duplicate event it exists already: no harm).
  const events = [...steps, ...execEvents].map((s) => s.e);
  const ensure = unique(
    [
      ...works.flatMap((w) =>
        w.item.workflows.map((workflow) => ({ w: w.item.workId, f: workflow, p: w.item.patch.id, a: w.item.transition.action })),
      ),
      ...events.map((e) => ({ w: e.workId, f: e.workflow, p: e.patchId, a: e.action })),
    ],
    (k) => execKey(k.w, k.f),
  );
  // The executions the events belong to, re-folded below (sorted: locks are taken in key order).
  const touched = unique(
    events.map((e) => ({ w: e.workId, f: e.workflow })),
    (k) => execKey(k.w, k.f),
  );

  const workIds = [...new Set([...works.map((w) => w.item.workId), ...events.map((e) => e.workId)])];
  const statements = ['begin', ...BY_KEY_PLANS];
  const at: Partial<Record<'work' | 'step' | 'execution' | 'settlement', number>> = {};
  const add = (key: keyof typeof at | undefined, statement: string) => {
    if (key) at[key] = statements.length;
    statements.push(statement);
  };
  if (works.length > 0) {
    add(
      'work',
      execute(
        'insertWork',
        literal(
          works.map((w) => ({
            work_id: w.item.workId,
            patch_id: w.item.patch.id,
            action: w.item.transition.action,
            patch_version: w.item.transition.patchVersion,
            transition: w.item.transition,
            workflows: w.item.workflows,
            stream_seq: w.streamSeq,
            // `00-<trace id>-<span id>-<flags>` (checked by the contract): the trace id is fixed-width.
            trace_id: w.item.trace ? w.item.trace.traceparent.slice(3, 35) : null,
          })),
        ),
      ),
    );
  }
  if (steps.length > 0) {
    add(
      'step',
      execute(
        'insertStep',
        literal(
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
        ),
      ),
    );
  }
  if (execEvents.length > 0) {
    add(
      'execution',
      execute(
        'insertExecutionEvent',
        literal(
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
            started_at: e.startedAt ?? null,
          })),
        ),
      ),
    );
  }
  if (ensure.length > 0) add(undefined, execute('ensureExecution', literal(ensure)));
  if (touched.length > 0) {
    const keys = literal(touched);
    const ids = uuidArray(touched.map((t) => t.w));
    add(undefined, execute('lockExecutions', keys, ids));
    add(undefined, execute('foldExecutions', keys, ids));
  }
  add(undefined, 'commit');
  // A transaction of its own, for its settings.
  add(undefined, 'begin');
  for (const setting of BY_KEY_PLANS) add(undefined, setting);
  add('settlement', execute('readSettlement', uuidArray(workIds)));
  add(undefined, 'commit');
  await prepare(client);
  const results = await script(client, statements);
  const rowsOf = (key: keyof typeof at) => (at[key] === undefined ? [] : (results[at[key]] ?? []));

  const settlement = settlements(rowsOf('settlement'));
  const settle = (workId: string) => settlement.get(workId) ?? { settled: false, effects: 'running' as const };

  const insertedWork = new Set(rowsOf('work').map((r) => r.work_id as string));
  const insertedEvents = new Set([...rowsOf('step'), ...rowsOf('execution')].map((r) => r.event_id as string));
  return inputs.map((i): ProjectionChange | undefined => {
    if (i.kind === 'work') {
      // Only the first copy of a work item in the batch reports the change.
      return insertedWork.delete(i.item.workId)
        ? { patchId: i.item.patch.id, workId: i.item.workId, kind: 'work', ...settle(i.item.workId) }
        : undefined;
    }
    const e = i.event;
    return insertedEvents.delete(e.eventId)
      ? { patchId: e.patchId, workId: e.workId, kind: e.kind, workflow: e.workflow, ...settle(e.workId) }
      : undefined;
  });
}

/**
 * Each work item's settlement from the rows of readSettlement. A work item whose own message has
 * not arrived (its events overtook it) is not settled: its routed workflows are unknown yet.
 */
function settlements(rows: Row[]): Map<string, { settled: boolean; effects: EffectState }> {
  const byWork = new Map<string, Row[]>();
  for (const row of rows) byWork.set(row.work_id as string, [...(byWork.get(row.work_id as string) ?? []), row]);
  const out = new Map<string, { settled: boolean; effects: EffectState }>();
  for (const [workId, list] of byWork) {
    if (!list.some((r) => r.known === true)) {
      out.set(workId, { settled: false, effects: 'running' });
      continue;
    }
    const s = settlementOf(
      list.map((r) => ({
        workflow: r.workflow as WorkflowName,
        status: r.status as ExecutionViewStatus,
        willRetry: r.will_retry as boolean,
        finishedAt: r.finished_ms === null ? null : new Date(Number(r.finished_ms)).toISOString(),
      })),
      null,
    );
    out.set(workId, { settled: s.settled, effects: s.effects });
  }
  return out;
}
