import pg from 'pg';
import type { DeadLetterView, WorkflowName, WorkItem } from '@patchflow/contracts';
import { withPoolClient } from '@patchflow/db';
import { migrateWorkflowDatabase, type ExecutionRecordStatus } from './schema/index.js';

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
   * live process holds it. One statement, so two instances racing on one item cannot both win.
   */
  async claim(work: WorkItem, leaseMs: number): Promise<ClaimResult> {
    const claimed = await this.pool.query<{ attempts: number; external_ref: ExternalRef }>(
      `INSERT INTO workflow_execution AS e (workflow, work_id, action, patch_id, status, attempts, lease_until)
       VALUES ($1, $2, $3, $4, 'running', 1, now() + make_interval(secs => $5::double precision / 1000))
       ON CONFLICT (workflow, work_id) DO UPDATE
         SET status = 'running', attempts = e.attempts + 1, updated_at = now(),
             lease_until = now() + make_interval(secs => $5::double precision / 1000)
         WHERE e.status <> 'succeeded' AND NOT (e.status = 'running' AND e.lease_until > now())
       RETURNING attempts, external_ref`,
      [this.workflow, work.workId, work.transition.action, work.patch.id, leaseMs],
    );
    const row = claimed.rows[0];
    if (row) return { kind: 'claimed', attempt: row.attempts, externalRef: row.external_ref };
    const current = await this.pool.query<{ status: string; attempts: number; wait_ms: number | null }>(
      `SELECT status, attempts, GREATEST(0, EXTRACT(EPOCH FROM (lease_until - now())) * 1000)::float8 AS wait_ms
         FROM workflow_execution WHERE workflow = $1 AND work_id = $2`,
      [this.workflow, work.workId],
    );
    const cur = current.rows[0];
    if (cur?.status === 'succeeded') return { kind: 'succeeded', attempts: cur.attempts };
    // Running elsewhere (or changed between the two statements): look again when the lease ends.
    return { kind: 'busy', retryInMs: Math.ceil((cur?.wait_ms ?? 0) + 50) };
  }

  /** Extends the lease of a running execution (long steps). */
  async renewLease(workId: string, leaseMs: number): Promise<void> {
    await this.pool.query(
      `UPDATE workflow_execution SET lease_until = now() + make_interval(secs => $3::double precision / 1000)
        WHERE workflow = $1 AND work_id = $2 AND status = 'running'`,
      [this.workflow, workId, leaseMs],
    );
  }

  /** Merges `ref` into the execution's external ids right away (before the step is acked). */
  async recordExternalRef(workId: string, ref: ExternalRef): Promise<void> {
    await this.pool.query(
      `UPDATE workflow_execution SET external_ref = external_ref || $3::jsonb, updated_at = now()
        WHERE workflow = $1 AND work_id = $2`,
      [this.workflow, workId, JSON.stringify(ref)],
    );
  }

  async markSucceeded(workId: string): Promise<void> {
    await this.pool.query(
      `UPDATE workflow_execution SET status = 'succeeded', last_error = NULL, lease_until = NULL, updated_at = now()
        WHERE workflow = $1 AND work_id = $2`,
      [this.workflow, workId],
    );
  }

  /** A transient failure: the lease is released so the redelivery (on any instance) may claim it. */
  async markRetrying(workId: string, error: string): Promise<void> {
    await this.pool.query(
      `UPDATE workflow_execution SET status = 'retrying', last_error = $3, lease_until = NULL, updated_at = now()
        WHERE workflow = $1 AND work_id = $2`,
      [this.workflow, workId, error],
    );
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
