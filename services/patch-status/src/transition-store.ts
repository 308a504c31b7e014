import type pg from 'pg';
import type { PatchStatus, WorkItem } from '@patchflow/contracts';
import type { Patch } from './entities/patch.js';

/**
 * The transition write path, in plain `pg` with named prepared statements.
 *
 * Why not the ORM here: a MikroORM unit of work costs ~2 ms of CPU per transition on this kind of
 * machine (FIELD-NOTES), a quarter of what Postgres itself can do. The transition is two round
 * trips: one read (the patch, plus an earlier transition with the same idempotency key), and one
 * statement that updates the patch with a version check and inserts the transition and its
 * outbox row. A single statement is a single transaction: all three rows commit, or none.
 */
export class TransitionStore {
  constructor(private readonly pool: pg.Pool) {}

  /** The patch and, when `idempotencyKey` is given, the work of the transition that used it. */
  async load(patchId: string, idempotencyKey: string | null): Promise<{ patch: Patch; earlier: WorkItem | null } | null> {
    const r = await this.pool.query<PatchRow & { earlier: WorkItem | null }>({
      name: 'transition-load',
      text: `SELECT p.*, w.payload AS earlier
               FROM patch p
               LEFT JOIN patch_transition t ON t.patch_id = p.id AND t.idempotency_key = $2
               LEFT JOIN patch_transition_work w ON w.transition_id = t.id
              WHERE p.id = $1`,
      values: [patchId, idempotencyKey],
    });
    const row = r.rows[0];
    return row ? { patch: fromRow(row), earlier: row.earlier } : null;
  }

  /**
   * Commits the transition if the patch is still at `fromVersion`. Returns false when another
   * transition got there first (the update matched nothing, so nothing was inserted).
   */
  async commit(c: {
    work: WorkItem;
    fromVersion: number;
    idempotencyKey: string | null;
  }): Promise<boolean> {
    const { work } = c;
    const t = work.transition;
    const r = await this.pool.query({
      name: 'transition-commit',
      text: `WITH upd AS (
               UPDATE patch SET status = $3, version = version + 1, updated_at = $4
                WHERE id = $1 AND version = $2
               RETURNING id, version
             ), tr AS (
               INSERT INTO patch_transition
                 (id, patch_id, action, from_status, to_status, actor, reason, patch_version, idempotency_key, created_at)
               SELECT $5, upd.id, $6, $7, $3, $8, $9, upd.version, $10, $4 FROM upd
               RETURNING id
             )
             INSERT INTO patch_transition_work (id, transition_id, patch_id, action, payload, created_at)
             SELECT $11, tr.id, $1, $6, $12, $4 FROM tr`,
      values: [
        t.patchId,
        c.fromVersion,
        t.toStatus,
        t.createdAt,
        t.id,
        t.action,
        t.fromStatus,
        t.actor,
        t.reason,
        c.idempotencyKey,
        work.workId,
        JSON.stringify(work),
      ],
    });
    return r.rowCount === 1;
  }
}

interface PatchRow {
  id: string;
  name: string;
  product: string;
  status: PatchStatus;
  version: number;
  jira_key: string | null;
  git_ref: string | null;
  predecessor_id: string | null;
  idempotency_key: string | null;
  created_by: string;
  created_at: Date;
  updated_at: Date;
}

function fromRow(r: PatchRow): Patch {
  return {
    id: r.id,
    name: r.name,
    product: r.product,
    status: r.status,
    version: r.version,
    jiraKey: r.jira_key,
    gitRef: r.git_ref,
    predecessorId: r.predecessor_id,
    idempotencyKey: r.idempotency_key,
    createdBy: r.created_by,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  } as Patch;
}
