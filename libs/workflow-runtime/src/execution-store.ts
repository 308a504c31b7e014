import pg from 'pg';
import type { DeadLetterView, WorkflowName, WorkItem } from '@patchflow/contracts';
import { Batcher, withPoolClient } from '@patchflow/db';
import { migrateWorkflowDatabase, type ExecutionRecordStatus } from './schema/index.js';

/** Up to 64 items per statement; two statements of a kind in flight (the pool holds 10). */
const BATCHING = { maxBatch: 64, maxInFlight: 2 };

interface ClaimInput {
  workId: string;
  action: string;
  patchId: string;
  leaseMs: number;
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
  /*
   * The hot writes go through batchers: a lone call runs at once; calls made while one is in
   * flight leave together in one statement (one round trip, one commit). Each resolves only
   * when its statement has committed, so a caller's order of effects is unchanged.
   */
  private readonly claims = new Batcher<ClaimInput, ClaimResult>(
    (items) =>
      eachOnce(
        items,
        (i) => i.workId,
        (b) => this.claimMany(b),
      ),
    BATCHING,
  );
  private readonly successes = new Batcher<string, void>(
    (ids) =>
      eachOnce(
        ids,
        (id) => id,
        (b) => this.markManySucceeded(b),
      ),
    BATCHING,
  );
  private readonly externalRefs = new Batcher<{ workId: string; ref: string }, void>(
    (items) =>
      eachOnce(
        items,
        (i) => i.workId,
        (b) => this.recordManyExternalRefs(b),
      ),
    BATCHING,
  );

  private constructor(
    private readonly pool: pg.Pool,
    readonly workflow: WorkflowName,
    /** Migrations this open applied (empty when the schema was current). */
    readonly appliedMigrations: string[],
  ) {}

  /**
   * Migrates the workflow database (schema owned by MikroORM migrations, `schema/`), then opens
   * the pool the hot path writes through.
   */
  static async open(databaseUrl: string, workflow: WorkflowName, poolSize = 10): Promise<ExecutionStore> {
    const applied = await migrateWorkflowDatabase(databaseUrl);
    const pool = new pg.Pool({ connectionString: databaseUrl, max: poolSize, connectionTimeoutMillis: 5000 });
    pool.on('error', () => undefined); // idle client errors surface on the next query instead
    return new ExecutionStore(pool, workflow, applied);
  }

  /**
   * Takes the execution for this process for `leaseMs`, unless it already succeeded or another
   * live process holds it. One statement, so two instances racing on one item cannot both win;
   * claims made at the same moment by this process share that statement (and its commit).
   */
  claim(work: WorkItem, leaseMs: number): Promise<ClaimResult> {
    return this.claims.run({ workId: work.workId, action: work.transition.action, patchId: work.patch.id, leaseMs });
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
    return this.externalRefs.run({ workId, ref: JSON.stringify(ref) });
  }

  /** Resolves once the execution is stored as succeeded (batched with others finishing meanwhile). */
  markSucceeded(workId: string): Promise<void> {
    return this.successes.run(workId);
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
               SELECT * FROM unnest($2::uuid[], $3::text[], $4::uuid[], $5::float8[]) WITH ORDINALITY AS i(work_id, action, patch_id, lease_ms, n)
             ), claimed AS (
               INSERT INTO workflow_execution AS e (workflow, work_id, action, patch_id, status, attempts, lease_until)
               SELECT $1, i.work_id, i.action, i.patch_id, 'running', 1, now() + make_interval(secs => i.lease_ms / 1000)
                 FROM input i
               ON CONFLICT (workflow, work_id) DO UPDATE
                 SET status = 'running', attempts = e.attempts + 1, updated_at = now(), lease_until = EXCLUDED.lease_until
                 WHERE e.status <> 'succeeded' AND NOT (e.status = 'running' AND e.lease_until > now())
               RETURNING e.work_id, e.attempts, e.external_ref
             )
             SELECT c.attempts, c.external_ref, x.status, x.attempts AS current_attempts,
                    GREATEST(0, EXTRACT(EPOCH FROM (x.lease_until - now())) * 1000)::float8 AS wait_ms
               FROM input i
               LEFT JOIN claimed c ON c.work_id = i.work_id
               LEFT JOIN workflow_execution x ON c.work_id IS NULL AND x.workflow = $1 AND x.work_id = i.work_id
              ORDER BY i.n`,
      values: [
        this.workflow,
        items.map((i) => i.workId),
        items.map((i) => i.action),
        items.map((i) => i.patchId),
        items.map((i) => i.leaseMs),
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
      text: `INSERT INTO workflow_execution AS e (workflow, work_id, action, patch_id, status, attempts, lease_until)
             VALUES ($1, $2, $3, $4, 'running', 1, now() + make_interval(secs => $5::double precision / 1000))
             ON CONFLICT (workflow, work_id) DO UPDATE
               SET status = 'running', attempts = e.attempts + 1, updated_at = now(), lease_until = EXCLUDED.lease_until
               WHERE e.status <> 'succeeded' AND NOT (e.status = 'running' AND e.lease_until > now())
             RETURNING attempts, external_ref`,
      values: [this.workflow, item.workId, item.action, item.patchId, item.leaseMs],
    });
    const row = claimed.rows[0];
    if (row) return { kind: 'claimed', attempt: row.attempts, externalRef: row.external_ref };
    const current = await this.pool.query<{ status: string; attempts: number; wait_ms: number | null }>({
      name: 'wf-claim-read',
      text: `SELECT status, attempts, GREATEST(0, EXTRACT(EPOCH FROM (lease_until - now())) * 1000)::float8 AS wait_ms
               FROM workflow_execution WHERE workflow = $1 AND work_id = $2`,
      values: [this.workflow, item.workId],
    });
    const cur = current.rows[0];
    if (cur?.status === 'succeeded') return { kind: 'succeeded', attempts: cur.attempts };
    // Running elsewhere (or changed between the two statements): look again when the lease ends.
    return { kind: 'busy', retryInMs: Math.ceil((cur?.wait_ms ?? 0) + 50) };
  }

  private async markManySucceeded(workIds: string[]): Promise<void[]> {
    await this.pool.query({
      name: 'wf-mark-succeeded',
      text: `UPDATE workflow_execution SET status = 'succeeded', last_error = NULL, lease_until = NULL, updated_at = now()
              WHERE workflow = $1 AND work_id = ANY($2::uuid[])`,
      values: [this.workflow, workIds],
    });
    return workIds.map(() => undefined);
  }

  private async recordManyExternalRefs(items: { workId: string; ref: string }[]): Promise<void[]> {
    await this.pool.query({
      name: 'wf-record-external-ref',
      text: `UPDATE workflow_execution e SET external_ref = e.external_ref || r.ref, updated_at = now()
               FROM unnest($2::uuid[], $3::jsonb[]) AS r(work_id, ref)
              WHERE e.workflow = $1 AND e.work_id = r.work_id`,
      values: [this.workflow, items.map((i) => i.workId), items.map((i) => i.ref)],
    });
    return items.map(() => undefined);
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
             SET reason = EXCLUDED.reason, attempts = EXCLUDED.attempts, dead_lettered_at = now(), retried_at = NULL`,
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
      `SELECT work_id, work, reason, attempts, dead_lettered_at, retried_at, retries FROM workflow_dead_letter
        WHERE workflow = $1 AND ($2 OR retried_at IS NULL)
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
    }));
  }

  /** The stored work items of open dead letters (one, or all when `workId` is undefined). */
  async openDeadLetterWork(workId: string | undefined): Promise<unknown[]> {
    const res = await this.pool.query<{ work: unknown }>(
      `SELECT work FROM workflow_dead_letter
        WHERE workflow = $1 AND retried_at IS NULL AND ($2::uuid IS NULL OR work_id = $2::uuid)
        ORDER BY dead_lettered_at`,
      [this.workflow, workId ?? null],
    );
    return res.rows.map((r) => r.work);
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
      `SELECT work_id AS "workId", status, attempts, last_error AS "lastError", external_ref AS "externalRef"
         FROM workflow_execution WHERE workflow = $1 AND work_id = $2`,
      [this.workflow, workId],
    );
    return res.rows[0];
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

export interface ExecutionRow {
  workId: string;
  status: ExecutionRecordStatus;
  attempts: number;
  lastError: string | null;
  externalRef: ExternalRef;
}

interface DeadLetterRow {
  work_id: string;
  work: WorkItem;
  reason: string;
  attempts: number;
  dead_lettered_at: Date;
  retried_at: Date | null;
  retries: number;
}
