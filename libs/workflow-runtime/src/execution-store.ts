import pg from 'pg';
import type { DeadLetterView, WorkflowName, WorkItem } from '@patchflow/contracts';
import { Batcher, withPoolClient } from '@patchflow/db';
import { migrateWorkflowDatabase, type ExecutionRecordStatus } from './schema/index.js';

/**
 * Up to 64 items per statement; two statements of a kind in flight (the pool holds 10); the
 * claims and results of messages read in one turn of the event loop go together.
 */
const BATCHING = { maxBatch: 64, maxInFlight: 2, sameTurn: true };

interface ClaimInput {
  workflow: WorkflowName;
  workId: string;
  action: string;
  patchId: string;
  leaseMs: number;
  /** The work item's stream sequence when it came from the stream (null: an operator run). */
  workSeq: number | null;
}

/**
 * Runs `execute` over `items` so that no key appears twice in one statement (an upsert may not
 * touch a row twice; an UPDATE … FROM would apply only one of two refs): the first of each key
 * goes in the first statement, a repeat in the next, in order; each statement takes its items
 * sorted by key. Results come back in `items` order.
 */
async function eachOnce<I, O>(items: I[], key: (i: I) => string, execute: (batch: I[]) => Promise<O[]>): Promise<O[]> {
  const out = new Array<O>(items.length);
  let rest = items.map((item, index) => ({ item, index }));
  while (rest.length > 0) {
    const seen = new Set<string>();
    const now: typeof rest = [];
    const later: typeof rest = [];
    for (const r of rest) {
      const k = key(r.item);
      if (seen.has(k)) later.push(r);
      else {
        seen.add(k);
        now.push(r);
      }
    }
    // Rows locked in one order by every instance: two overlapping batches cannot deadlock.
    now.sort((a, b) => (key(a.item) < key(b.item) ? -1 : 1));
    const results = await execute(now.map((r) => r.item));
    now.forEach((r, i) => (out[r.index] = results[i]!));
    rest = later;
  }
  return out;
}

/** What an execution remembers about its external effects (pipeline id, comment id, …). */
export type ExternalRef = Record<string, unknown>;

export type ClaimResult =
  /** This process may run the execution now; `attempt` counts every run, retries included. */
  | { kind: 'claimed'; attempt: number; externalRef: ExternalRef }
  /** It succeeded before (redelivery or replay): do nothing. */
  | { kind: 'succeeded'; attempts: number }
  /** Another process holds a live lease on it: try again after `retryInMs`. */
  | { kind: 'busy'; retryInMs: number };

/**
 * Durable execution state of one workflow, in plain SQL over a small pool (the tables are
 * declared and migrated in `schema/`). Every method is one statement or one short transaction;
 * nothing is cached in memory, so any instance can pick up any work item.
 */
export class ExecutionStore {
  private readonly pool: pg.Pool;
  private closed = false;

  private constructor(
    private readonly writes: ExecutionWrites,
    readonly workflow: WorkflowName,
    /** Migrations this open applied (empty when the schema was current). */
    readonly appliedMigrations: string[],
  ) {
    this.pool = writes.pool;
  }

  /**
   * Migrates the workflow database (schema owned by MikroORM migrations, `schema/`), then opens
   * the pool the hot path writes through — shared with the other stores of this process on the
   * same database (the workflow host's workflows), see `ExecutionWrites`.
   */
  static async open(databaseUrl: string, workflow: WorkflowName, poolSize = 10): Promise<ExecutionStore> {
    const applied = await migrateWorkflowDatabase(databaseUrl);
    return new ExecutionStore(ExecutionWrites.acquire(databaseUrl, poolSize), workflow, applied);
  }

  /**
   * Takes the execution for this process for `leaseMs`, unless it already succeeded or another
   * live process holds it. One statement, so two instances racing on one item cannot both win;
   * claims made at the same moment by this process share that statement (and its commit).
   */
  claim(work: WorkItem, leaseMs: number, workSeq: number | null = null): Promise<ClaimResult> {
    return this.writes.claims.run({
      workflow: this.workflow,
      workId: work.workId,
      action: work.transition.action,
      patchId: work.patch.id,
      leaseMs,
      workSeq,
    });
  }

  /**
   * An operator's forced run: claims the execution even if it succeeded, as a new attempt, with
   * its external ids cleared (the point is to do the work again) and the operator recorded.
   * Busy only while another process holds a live lease. `previousExternalRef` is what was cleared.
   */
  async forceClaim(
    work: WorkItem,
    leaseMs: number,
    note: { actor: string; reason: string },
    workSeq: number | null,
  ): Promise<{ kind: 'claimed'; attempt: number; previousExternalRef: ExternalRef } | { kind: 'busy'; retryInMs: number }> {
    const res = await this.pool.query<{ attempts: number; previous_ref: ExternalRef | null }>(
      `WITH prev AS (SELECT external_ref FROM workflow_execution WHERE workflow = $1 AND work_id = $2)
       INSERT INTO workflow_execution AS e
              (workflow, work_id, action, patch_id, status, attempts, lease_until, work_seq, operator_actor, operator_reason)
       VALUES ($1, $2, $3, $4, 'running', 1, now() + make_interval(secs => $5::double precision / 1000), $6, $7, $8)
       ON CONFLICT (workflow, work_id) DO UPDATE
         SET status = 'running', attempts = e.attempts + 1, updated_at = now(), lease_until = EXCLUDED.lease_until,
             external_ref = '{}'::jsonb, work_seq = COALESCE(EXCLUDED.work_seq, e.work_seq),
             operator_actor = EXCLUDED.operator_actor, operator_reason = EXCLUDED.operator_reason
         WHERE NOT (e.status = 'running' AND e.lease_until > now())
       RETURNING attempts, (SELECT external_ref FROM prev) AS previous_ref`,
      [this.workflow, work.workId, work.transition.action, work.patch.id, leaseMs, workSeq, note.actor, note.reason],
    );
    const row = res.rows[0];
    if (row) return { kind: 'claimed', attempt: row.attempts, previousExternalRef: row.previous_ref ?? {} };
    const cur = await this.get(work.workId);
    const waitMs = cur?.leaseUntil ? Math.max(0, cur.leaseUntil.getTime() - Date.now()) : 0;
    return { kind: 'busy', retryInMs: Math.ceil(waitMs + 50) };
  }

  /** Records who retried an execution by hand and why. */
  async recordOperator(workId: string, note: { actor: string; reason: string }): Promise<void> {
    await this.pool.query(
      `UPDATE workflow_execution SET operator_actor = $3, operator_reason = $4, updated_at = now() WHERE workflow = $1 AND work_id = $2`,
      [this.workflow, workId, note.actor, note.reason],
    );
  }

  /** Extends the lease of a running execution (long steps). */
  async renewLease(workId: string, leaseMs: number): Promise<void> {
    await this.pool.query({
      name: 'wf-renew-lease',
      text: `UPDATE workflow_execution SET lease_until = now() + make_interval(secs => $3::double precision / 1000)
              WHERE workflow = $1 AND work_id = $2 AND status = 'running'`,
      values: [this.workflow, workId, leaseMs],
    });
  }

  /** Merges `ref` into the execution's external ids right away (before the step is acked). */
  recordExternalRef(workId: string, ref: ExternalRef): Promise<void> {
    return this.writes.results.run({ workflow: this.workflow, workId, ref: JSON.stringify(ref), succeeded: false });
  }

  /**
   * Resolves once the execution is stored as succeeded (batched with others finishing meanwhile),
   * with `ref` merged into its external ids in the same write.
   */
  markSucceeded(workId: string, ref?: ExternalRef): Promise<void> {
    return this.writes.results.run({ workflow: this.workflow, workId, ref: ref ? JSON.stringify(ref) : null, succeeded: true });
  }

  /** A transient failure: the lease is released so the redelivery (on any instance) may claim it. */
  async markRetrying(workId: string, error: string): Promise<void> {
    await this.pool.query({
      name: 'wf-mark-retrying',
      text: `UPDATE workflow_execution SET status = 'retrying', last_error = $3, lease_until = NULL, updated_at = now()
              WHERE workflow = $1 AND work_id = $2`,
      values: [this.workflow, workId, error],
    });
  }

  /** Final failure: the execution is failed and the work kept in the dead-letter table, atomically. */
  async deadLetter(work: WorkItem, reason: string, attempts: number): Promise<void> {
    // A connection the server ends meanwhile fails this call (the work is retried), never the process.
    await withPoolClient(this.pool, async (c) => {
      try {
        await c.query('BEGIN');
        await c.query(
          `UPDATE workflow_execution SET status = 'failed', last_error = $3, lease_until = NULL, updated_at = now()
            WHERE workflow = $1 AND work_id = $2`,
          [this.workflow, work.workId, reason],
        );
        await c.query(
          `INSERT INTO workflow_dead_letter (workflow, work_id, work, reason, attempts)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (workflow, work_id) DO UPDATE
             SET reason = EXCLUDED.reason, attempts = EXCLUDED.attempts, dead_lettered_at = now(), retried_at = NULL,
                 discarded_at = NULL, discarded_by = NULL, discard_reason = NULL`,
          [this.workflow, work.workId, JSON.stringify(work), reason, attempts],
        );
        await c.query('COMMIT');
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  async listDeadLetters(options: { includeRetried: boolean; limit: number }): Promise<DeadLetterView[]> {
    const res = await this.pool.query<DeadLetterRow>(
      `SELECT work_id, work, reason, attempts, dead_lettered_at, retried_at, retries, discarded_at, discarded_by, discard_reason
         FROM workflow_dead_letter
        WHERE workflow = $1 AND ($2 OR (retried_at IS NULL AND discarded_at IS NULL))
        ORDER BY dead_lettered_at LIMIT $3`,
      [this.workflow, options.includeRetried, options.limit],
    );
    return res.rows.map((r) => ({
      workflow: this.workflow,
      workId: r.work_id,
      patchId: r.work.patch.id,
      patchName: r.work.patch.name,
      action: r.work.transition.action,
      reason: r.reason,
      attempts: r.attempts,
      deadLetteredAt: r.dead_lettered_at.toISOString(),
      retriedAt: r.retried_at ? r.retried_at.toISOString() : null,
      retries: r.retries,
      discarded: r.discarded_at
        ? { at: r.discarded_at.toISOString(), actor: r.discarded_by ?? '', reason: r.discard_reason ?? '' }
        : null,
    }));
  }

  /** The stored work items of open dead letters (one, or all when `workId` is undefined). */
  async openDeadLetterWork(workId: string | undefined): Promise<unknown[]> {
    const res = await this.pool.query<{ work: unknown }>(
      `SELECT work FROM workflow_dead_letter
        WHERE workflow = $1 AND retried_at IS NULL AND discarded_at IS NULL AND ($2::uuid IS NULL OR work_id = $2::uuid)
        ORDER BY dead_lettered_at`,
      [this.workflow, workId ?? null],
    );
    return res.rows.map((r) => r.work);
  }

  /** The stored work item of a dead letter, open or closed (undefined: never dead-lettered). */
  async deadLetterWork(workId: string): Promise<{ work: unknown; open: boolean } | undefined> {
    const res = await this.pool.query<{ work: unknown; open: boolean }>(
      `SELECT work, (retried_at IS NULL AND discarded_at IS NULL) AS open FROM workflow_dead_letter
        WHERE workflow = $1 AND work_id = $2`,
      [this.workflow, workId],
    );
    return res.rows[0];
  }

  /** Closes an open dead letter without running it; returns its work item, or undefined if none was open. */
  async discardDeadLetter(
    workId: string,
    note: { actor: string; reason: string },
  ): Promise<{ work: unknown; attempts: number; discardedAt: Date } | undefined> {
    const res = await this.pool.query<{ work: unknown; attempts: number; discarded_at: Date }>(
      `UPDATE workflow_dead_letter SET discarded_at = now(), discarded_by = $3, discard_reason = $4
        WHERE workflow = $1 AND work_id = $2 AND retried_at IS NULL AND discarded_at IS NULL
        RETURNING work, attempts, discarded_at`,
      [this.workflow, workId, note.actor, note.reason],
    );
    const row = res.rows[0];
    return row ? { work: row.work, attempts: row.attempts, discardedAt: row.discarded_at } : undefined;
  }

  /**
   * What needs an operator: open dead letters (with the work's patch name), executions waiting
   * for a redelivery after a failed attempt, and executions running longer than `stuckAfterMs`
   * or whose lease ran out. Oldest first.
   */
  async attention(stuckAfterMs: number, limit: number): Promise<AttentionRow[]> {
    const res = await this.pool.query<AttentionRow>(
      `SELECT * FROM (
         SELECT 'dead_letter' AS kind, work_id AS "workId", (work->'patch'->>'id')::uuid AS "patchId",
                work->'patch'->>'name' AS "patchName", work->'transition'->>'action' AS action, reason,
                dead_lettered_at AS since
           FROM workflow_dead_letter WHERE workflow = $1 AND retried_at IS NULL AND discarded_at IS NULL
         UNION ALL
         SELECT 'failed', work_id, patch_id, NULL, action, COALESCE(last_error, 'failed; waiting for a redelivery'), updated_at
           FROM workflow_execution WHERE workflow = $1 AND status = 'retrying'
         UNION ALL
         SELECT 'stuck', work_id, patch_id, NULL, action,
                CASE WHEN lease_until < now() THEN 'running, but its lease ran out (the process holding it stopped)'
                     ELSE 'running for longer than ' || round($2::numeric / 60000, 1) || ' min' END,
                updated_at
           FROM workflow_execution
          WHERE workflow = $1 AND status = 'running'
            AND (lease_until < now() OR updated_at < now() - make_interval(secs => $2::double precision / 1000))
       ) a ORDER BY since LIMIT $3`,
      [this.workflow, stuckAfterMs, limit],
    );
    return res.rows;
  }

  async markDeadLetterRetried(workId: string): Promise<void> {
    await this.pool.query(
      `UPDATE workflow_dead_letter SET retried_at = now(), retries = retries + 1 WHERE workflow = $1 AND work_id = $2`,
      [this.workflow, workId],
    );
  }

  async countRetry(workId: string): Promise<void> {
    await this.pool.query(`UPDATE workflow_dead_letter SET retries = retries + 1 WHERE workflow = $1 AND work_id = $2`, [
      this.workflow,
      workId,
    ]);
  }

  /** The execution row, for tests and operators. */
  async get(workId: string): Promise<ExecutionRow | undefined> {
    const res = await this.pool.query<ExecutionRow>(
      `SELECT work_id AS "workId", status, attempts, last_error AS "lastError", external_ref AS "externalRef",
              work_seq::float8 AS "workSeq", lease_until AS "leaseUntil", operator_actor AS "operatorActor",
              operator_reason AS "operatorReason"
         FROM workflow_execution WHERE workflow = $1 AND work_id = $2`,
      [this.workflow, workId],
    );
    return res.rows[0];
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writes.release();
  }
}

export interface ExecutionRow {
  workId: string;
  status: ExecutionRecordStatus;
  attempts: number;
  lastError: string | null;
  externalRef: ExternalRef;
  /** Where the work item sits in the work stream (null: delivered before this was recorded, or never delivered). */
  workSeq: number | null;
  leaseUntil: Date | null;
  operatorActor: string | null;
  operatorReason: string | null;
}

export interface AttentionRow {
  kind: 'dead_letter' | 'failed' | 'stuck';
  workId: string;
  patchId: string;
  patchName: string | null;
  action: string;
  reason: string;
  since: Date;
}

interface DeadLetterRow {
  work_id: string;
  work: WorkItem;
  reason: string;
  attempts: number;
  dead_lettered_at: Date;
  retried_at: Date | null;
  retries: number;
  discarded_at: Date | null;
  discarded_by: string | null;
  discard_reason: string | null;
}

/**
 * A result of one execution: external ids to merge (`ref`, JSON text, or null), and whether it
 * succeeded with them.
 */
interface ResultInput {
  workflow: WorkflowName;
  workId: string;
  ref: string | null;
  succeeded: boolean;
}

/** A batcher of one kind of write, each execution at most once per statement (`eachOnce`). */
function batched<I extends { workflow: WorkflowName; workId: string }, O>(write: (items: I[]) => Promise<O[]>): Batcher<I, O> {
  return new Batcher<I, O>((items) => eachOnce(items, (i) => `${i.workflow}:${i.workId}`, write), BATCHING);
}

/**
 * The pool and the hot writes (claims; results: external ids and successes) of every
 * ExecutionStore of this process on one database: one set per database, shared by the workflow
 * host's workflows, so a work item reaching all four is claimed, and its results stored, in
 * fewer statements and commits. A lone call runs at once; calls made while one of their kind is
 * in flight, or in the same turn of the event loop, leave together in one statement; each
 * resolves only when its statement has committed, so a caller's order of effects is unchanged.
 * Rows carry their workflow: nothing is mixed up across workflows, and each workflow's rows,
 * reads, retries and dead letters stay its own.
 */
class ExecutionWrites {
  private static readonly open = new Map<string, { writes: ExecutionWrites; users: number }>();

  readonly claims = batched<ClaimInput, ClaimResult>((b) => this.claimMany(b));
  /** External ids and successes: one kind of write, so one execution's ids and another's success share a statement. */
  readonly results = batched<ResultInput, void>((b) => this.storeManyResults(b));

  private constructor(
    readonly pool: pg.Pool,
    private readonly key: string,
  ) {}

  /** This process's writes on `databaseUrl` (a pool of `poolSize`), opened by the first store. */
  static acquire(databaseUrl: string, poolSize: number): ExecutionWrites {
    const key = `${poolSize} ${databaseUrl}`;
    let entry = ExecutionWrites.open.get(key);
    if (!entry) {
      // Generic plans (made once per connection and statement) instead of a custom plan per call:
      // Postgres keeps making custom plans while they are estimated cheaper, and for a batch of a
      // few rows they always are, so the results update was planned on every call. Every statement
      // here reaches its rows by key in its generic plan too (checked on a large table by
      // libs/workflow-runtime/test/execution-store-batching.test.ts).
      const pool = new pg.Pool({
        connectionString: databaseUrl,
        max: poolSize,
        connectionTimeoutMillis: 5000,
        options: '-c plan_cache_mode=force_generic_plan',
      });
      pool.on('error', () => undefined); // idle client errors surface on the next query instead
      entry = { writes: new ExecutionWrites(pool, key), users: 0 };
      ExecutionWrites.open.set(key, entry);
    }
    entry.users += 1;
    return entry.writes;
  }

  /** The last store to close ends the pool. */
  async release(): Promise<void> {
    const entry = ExecutionWrites.open.get(this.key);
    if (!entry || --entry.users > 0) return;
    ExecutionWrites.open.delete(this.key);
    await this.pool.end();
  }

  /**
   * Claims several executions in one statement. An item whose row is not returned by the upsert
   * was not claimable: the same statement reads why (succeeded, or a live lease elsewhere). The
   * read sees the row as it was before the statement, so a row changed meanwhile by another
   * instance reads as busy and is looked at again later — never as claimable.
   */
  private async claimMany(items: ClaimInput[]): Promise<ClaimResult[]> {
    if (items.length === 1) return [await this.claimOne(items[0]!)];
    const res = await this.pool.query<{
      attempts: number | null;
      external_ref: ExternalRef | null;
      status: string | null;
      current_attempts: number | null;
      wait_ms: number | null;
    }>({
      name: 'wf-claim',
      text: `WITH input AS (
               SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::uuid[], $5::float8[], $6::bigint[]) WITH ORDINALITY AS i(workflow, work_id, action, patch_id, lease_ms, work_seq, n)
             ), claimed AS (
               INSERT INTO workflow_execution AS e (workflow, work_id, action, patch_id, status, attempts, lease_until, work_seq)
               SELECT i.workflow, i.work_id, i.action, i.patch_id, 'running', 1, now() + make_interval(secs => i.lease_ms / 1000), i.work_seq
                 FROM input i
               ON CONFLICT (workflow, work_id) DO UPDATE
                 SET status = 'running', attempts = e.attempts + 1, updated_at = now(), lease_until = EXCLUDED.lease_until,
                     work_seq = COALESCE(EXCLUDED.work_seq, e.work_seq)
                 WHERE e.status <> 'succeeded' AND NOT (e.status = 'running' AND e.lease_until > now())
               RETURNING e.workflow, e.work_id, e.attempts, e.external_ref
             )
             SELECT c.attempts, c.external_ref, x.status, x.attempts AS current_attempts,
                    GREATEST(0, EXTRACT(EPOCH FROM (x.lease_until - now())) * 1000)::float8 AS wait_ms
               FROM input i
               LEFT JOIN claimed c ON c.workflow = i.workflow AND c.work_id = i.work_id
               LEFT JOIN workflow_execution x ON c.work_id IS NULL AND x.workflow = i.workflow AND x.work_id = i.work_id
              ORDER BY i.n`,
      values: [
        items.map((i) => i.workflow),
        items.map((i) => i.workId),
        items.map((i) => i.action),
        items.map((i) => i.patchId),
        items.map((i) => i.leaseMs),
        items.map((i) => i.workSeq),
      ],
    });
    return items.map((_, k): ClaimResult => {
      const row = res.rows[k];
      if (row?.attempts != null) return { kind: 'claimed', attempt: row.attempts, externalRef: row.external_ref ?? {} };
      if (row?.status === 'succeeded') return { kind: 'succeeded', attempts: row.current_attempts ?? 0 };
      // Running elsewhere (or changed by another instance meanwhile): look again when the lease ends.
      return { kind: 'busy', retryInMs: Math.ceil((row?.wait_ms ?? 0) + 50) };
    });
  }

  /**
   * A lone claim (the usual case at low load): the plain upsert, cheaper for Postgres than the
   * batch statement's arrays and join; the row is read only when it was not claimable.
   */
  private async claimOne(item: ClaimInput): Promise<ClaimResult> {
    const claimed = await this.pool.query<{ attempts: number; external_ref: ExternalRef }>({
      name: 'wf-claim-one',
      text: `INSERT INTO workflow_execution AS e (workflow, work_id, action, patch_id, status, attempts, lease_until, work_seq)
             VALUES ($1, $2, $3, $4, 'running', 1, now() + make_interval(secs => $5::double precision / 1000), $6)
             ON CONFLICT (workflow, work_id) DO UPDATE
               SET status = 'running', attempts = e.attempts + 1, updated_at = now(), lease_until = EXCLUDED.lease_until,
                   work_seq = COALESCE(EXCLUDED.work_seq, e.work_seq)
               WHERE e.status <> 'succeeded' AND NOT (e.status = 'running' AND e.lease_until > now())
             RETURNING attempts, external_ref`,
      values: [item.workflow, item.workId, item.action, item.patchId, item.leaseMs, item.workSeq],
    });
    const row = claimed.rows[0];
    if (row) return { kind: 'claimed', attempt: row.attempts, externalRef: row.external_ref };
    const current = await this.pool.query<{ status: string; attempts: number; wait_ms: number | null }>({
      name: 'wf-claim-read',
      text: `SELECT status, attempts, GREATEST(0, EXTRACT(EPOCH FROM (lease_until - now())) * 1000)::float8 AS wait_ms
               FROM workflow_execution WHERE workflow = $1 AND work_id = $2`,
      values: [item.workflow, item.workId],
    });
    const cur = current.rows[0];
    if (cur?.status === 'succeeded') return { kind: 'succeeded', attempts: cur.attempts };
    // Running elsewhere (or changed between the two statements): look again when the lease ends.
    return { kind: 'busy', retryInMs: Math.ceil((cur?.wait_ms ?? 0) + 50) };
  }

  /**
   * One statement for external ids and successes (a null ref merges nothing; only a success
   * changes the status): an execution that records its pipeline id and another that finishes in
   * the same turn commit together.
   */
  private async storeManyResults(items: ResultInput[]): Promise<void[]> {
    await this.pool.query({
      name: 'wf-store-results',
      text: `UPDATE workflow_execution e
                SET status = CASE WHEN r.succeeded THEN 'succeeded' ELSE e.status END,
                    last_error = CASE WHEN r.succeeded THEN NULL ELSE e.last_error END,
                    lease_until = CASE WHEN r.succeeded THEN NULL ELSE e.lease_until END,
                    updated_at = now(),
                    external_ref = e.external_ref || COALESCE(r.ref, '{}'::jsonb)
               FROM unnest($1::text[], $2::uuid[], $3::jsonb[], $4::boolean[]) AS r(workflow, work_id, ref, succeeded)
              WHERE e.workflow = r.workflow AND e.work_id = r.work_id`,
      values: [items.map((i) => i.workflow), items.map((i) => i.workId), items.map((i) => i.ref), items.map((i) => i.succeeded)],
    });
    return items.map(() => undefined);
  }
}
