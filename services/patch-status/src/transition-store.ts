import type pg from 'pg';
import type { PatchStatus, WorkItem } from '@patchflow/contracts';
import { BatchItemError, Batcher } from '@patchflow/db';
import type { Patch } from './entities/patch.js';

/** Postgres's SQLSTATE for a unique violation. */
const UNIQUE_VIOLATION = '23505';

export interface Loaded {
  patch: Patch;
  /** The work of an earlier transition of this patch with the same idempotency key. */
  earlier: WorkItem | null;
  /** The fingerprint of the request that committed `earlier` (null when it predates fingerprints). */
  earlierFingerprint: string | null;
}

export interface CommitRequest {
  work: WorkItem;
  fromVersion: number;
  idempotencyKey: string | null;
  /** Stored with the transition when it has a key (see request-fingerprint.ts); absent = null. */
  requestFingerprint?: string | null;
}

export interface TransitionStoreOptions {
  /** Most transitions one statement carries. */
  maxBatch: number;
  /** Statements of each kind running at once; further callers wait and share the next one. */
  maxInFlight: number;
}

/**
 * The transition write path, in plain `pg` with named prepared statements (and the patch writes
 * the successor workflow makes once per deployment: its create and, for a hand-made successor, its
 * link).
 *
 * Why not the ORM: a MikroORM unit of work costs ~2 ms of CPU per transition on this kind of
 * machine (docs/FIELD-NOTES.md), a quarter of what Postgres itself can do. A transition is two round
 * trips: one read (the patch, plus an earlier transition with the same idempotency key and the
 * fingerprint of its request — in the same statement, so checking a key costs no round trip), and one
 * statement that updates the patch with a version check and inserts the transition and its
 * outbox row — a single statement, so a single transaction: all three rows commit, or none.
 *
 * Why batches: on this machine a socket write and a commit cost more than the SQL itself, so
 * concurrent transitions share them. The batched statements do per row exactly what the single
 * ones do: each patch's update is checked against its own version, and when two rows of one batch
 * target the same patch, Postgres applies one of them and the other sees no update (a conflict).
 */
export class TransitionStore {
  private readonly loader: Batcher<{ patchId: string; key: string | null }, Loaded | null>;
  private readonly committer: Batcher<CommitRequest, boolean>;

  constructor(
    private readonly pool: pg.Pool,
    options: TransitionStoreOptions = { maxBatch: 64, maxInFlight: 1 },
  ) {
    this.loader = new Batcher((items) => this.loadMany(items), options);
    this.committer = new Batcher((items) => this.commitMany(items), options);
  }

  /** The patch and, when `idempotencyKey` is given, the work of the transition that used it. */
  load(patchId: string, idempotencyKey: string | null): Promise<Loaded | null> {
    return this.loader.run({ patchId, key: idempotencyKey });
  }

  /**
   * Commits the transition if the patch is still at `fromVersion`. Resolves false when another
   * transition got there first (the update matched nothing, so nothing was inserted).
   */
  commit(c: CommitRequest): Promise<boolean> {
    return this.committer.run(c);
  }

  /**
   * The common create in one autocommit statement: inserts the patch unless any unique rule
   * (idempotency key, one successor per predecessor, product + name) already holds a row, or the
   * predecessor does not exist. Resolves to the new patch, or null when nothing was inserted —
   * the caller then works out the answer (replay, link, duplicate, not found) the careful way.
   * The successor workflow creates one patch per deployment: through the ORM that was five round
   * trips and most of patch-status's CPU per settled startDeployment (bench:e2e -- --prof).
   */
  async insertPatch(p: Omit<Patch, 'createdAt' | 'updatedAt'>): Promise<Patch | null> {
    const r = await this.pool.query<PatchRow>({
      name: 'patch-insert',
      text: `INSERT INTO patch (id, name, product, status, version, jira_key, git_ref, predecessor_id,
                                idempotency_key, idempotency_fingerprint, created_by, created_at, updated_at)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12
              WHERE $8::uuid IS NULL OR EXISTS (SELECT 1 FROM patch WHERE id = $8::uuid)
             ON CONFLICT DO NOTHING
             RETURNING *`,
      values: [
        p.id,
        p.name,
        p.product,
        p.status,
        p.version,
        p.jiraKey,
        p.gitRef,
        p.predecessorId,
        p.idempotencyKey,
        p.idempotencyFingerprint,
        p.createdBy,
        // The time from here, not now(): every patch time is a JS Date (milliseconds), as the
        // list's keyset cursor carries it; a microsecond now() made a row with the cursor's
        // millisecond but a later microsecond fall out of the next page.
        new Date(),
      ],
    });
    const row = r.rows[0];
    return row ? fromRow(row) : null;
  }

  /**
   * Makes `successorId` (a patch without a predecessor) the successor of `predecessorId`, unless
   * it is an ancestor of it (no cycle). `linked`: done; `taken`: another patch became the
   * successor first (`patch_one_successor`); `refused`: it has a predecessor now, or would close a
   * cycle. One statement: the ancestor walk and the update see the same snapshot.
   */
  async linkSuccessor(predecessorId: string, successorId: string): Promise<'linked' | 'taken' | 'refused'> {
    try {
      const r = await this.pool.query({
        name: 'patch-link-successor',
        text: `WITH RECURSIVE ancestors(id) AS (
                 SELECT predecessor_id FROM patch WHERE id = $1
                 UNION SELECT p.predecessor_id FROM patch p JOIN ancestors a ON p.id = a.id
               )
               UPDATE patch SET predecessor_id = $1
                WHERE id = $2 AND predecessor_id IS NULL AND id <> $1
                  AND NOT EXISTS (SELECT 1 FROM ancestors WHERE id = $2)
               RETURNING id`,
        values: [predecessorId, successorId],
      });
      return r.rowCount ? 'linked' : 'refused';
    } catch (err) {
      if ((err as { code?: unknown }).code === UNIQUE_VIOLATION) return 'taken';
      throw err;
    }
  }

  /** One transition, one statement, no batching (the benchmark's per-transaction ceiling). */
  async loadOne(patchId: string, idempotencyKey: string | null): Promise<Loaded | null> {
    const r = await this.pool.query<PatchRow & { earlier: WorkItem | null; earlier_fingerprint: string | null }>({
      name: 'transition-load',
      text: `SELECT p.*, w.payload AS earlier, t.request_fingerprint AS earlier_fingerprint
               FROM patch p
               LEFT JOIN patch_transition t ON t.patch_id = p.id AND t.idempotency_key = $2
               LEFT JOIN patch_transition_work w ON w.transition_id = t.id
              WHERE p.id = $1`,
      values: [patchId, idempotencyKey],
    });
    const row = r.rows[0];
    return row ? { patch: fromRow(row), earlier: row.earlier, earlierFingerprint: row.earlier_fingerprint } : null;
  }

  async commitOne(c: CommitRequest): Promise<boolean> {
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
                 (id, patch_id, action, from_status, to_status, actor, reason, patch_version, idempotency_key,
                  request_fingerprint, created_at)
               SELECT $5, upd.id, $6, $7, $3, $8, $9, upd.version, $10, $13, $4 FROM upd
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
        c.requestFingerprint ?? null,
      ],
    });
    return r.rowCount === 1;
  }

  private async loadMany(items: { patchId: string; key: string | null }[]): Promise<(Loaded | null)[]> {
    if (items.length === 1) return [await this.loadOne(items[0]!.patchId, items[0]!.key)];
    const r = await this.pool.query<PatchRow & { earlier: WorkItem | null; earlier_fingerprint: string | null; ord: string }>({
      name: 'transition-load-many',
      // LATERAL so that both columns of (patch_id, idempotency_key) drive the index lookup; a
      // plain join filters the key after reading every transition of the patch.
      text: `SELECT r.ord, p.*, e.payload AS earlier, e.request_fingerprint AS earlier_fingerprint
               FROM unnest($1::uuid[], $2::text[]) WITH ORDINALITY AS r(id, idempotency_key, ord)
               JOIN patch p ON p.id = r.id
               LEFT JOIN LATERAL (
                 SELECT w.payload, t.request_fingerprint
                   FROM patch_transition t JOIN patch_transition_work w ON w.transition_id = t.id
                  WHERE r.idempotency_key IS NOT NULL AND t.patch_id = r.id AND t.idempotency_key = r.idempotency_key
               ) e ON true`,
      values: [items.map((i) => i.patchId), items.map((i) => i.key)],
    });
    const out: (Loaded | null)[] = items.map(() => null);
    for (const row of r.rows) {
      out[Number(row.ord) - 1] = { patch: fromRow(row), earlier: row.earlier, earlierFingerprint: row.earlier_fingerprint };
    }
    return out;
  }

  private async commitMany(items: CommitRequest[]): Promise<(boolean | BatchItemError)[]> {
    if (items.length === 1) return [await this.commitOne(items[0]!)];
    const col = <T>(f: (c: CommitRequest) => T) => items.map(f);
    const r = await this.pool
      .query<{ transition_id: string }>({
        name: 'transition-commit-many',
        text: `WITH v AS (
                 SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::timestamptz[], $5::uuid[], $6::text[],
                                      $7::text[], $8::text[], $9::text[], $10::text[], $11::uuid[], $12::jsonb[],
                                      $13::text[])
                   AS v(patch_id, from_version, to_status, at, transition_id, action,
                        from_status, actor, reason, idempotency_key, work_id, payload, request_fingerprint)
               ), upd AS (
                 UPDATE patch p SET status = v.to_status, version = p.version + 1, updated_at = v.at
                   FROM v
                  WHERE p.id = v.patch_id AND p.version = v.from_version
                 RETURNING v.transition_id, p.version
               ), tr AS (
                 INSERT INTO patch_transition
                   (id, patch_id, action, from_status, to_status, actor, reason, patch_version, idempotency_key,
                    request_fingerprint, created_at)
                 SELECT v.transition_id, v.patch_id, v.action, v.from_status, v.to_status, v.actor, v.reason,
                        upd.version, v.idempotency_key, v.request_fingerprint, v.at
                   FROM upd JOIN v ON v.transition_id = upd.transition_id
                 RETURNING id
               )
               INSERT INTO patch_transition_work (id, transition_id, patch_id, action, payload, created_at)
               SELECT v.work_id, v.transition_id, v.patch_id, v.action, v.payload, v.at
                 FROM tr JOIN v ON v.transition_id = tr.id
               RETURNING transition_id`,
        values: [
          col((c) => c.work.transition.patchId),
          col((c) => c.fromVersion),
          col((c) => c.work.transition.toStatus),
          col((c) => c.work.transition.createdAt),
          col((c) => c.work.transition.id),
          col((c) => c.work.transition.action),
          col((c) => c.work.transition.fromStatus),
          col((c) => c.work.transition.actor),
          col((c) => c.work.transition.reason),
          col((c) => c.idempotencyKey),
          col((c) => c.work.workId),
          col((c) => JSON.stringify(c.work)),
          col((c) => c.requestFingerprint ?? null),
        ],
      })
      // One bad row must not fail its neighbours: on any error, settle each alone.
      .catch(() => null);
    if (r === null) {
      const alone = await Promise.allSettled(items.map((c) => this.commitOne(c)));
      return alone.map((a) => (a.status === 'fulfilled' ? a.value : new BatchItemError(a.reason)));
    }
    const committed = new Set(r.rows.map((row) => row.transition_id));
    return items.map((c) => committed.has(c.work.transition.id));
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
  idempotency_fingerprint: string | null;
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
    idempotencyFingerprint: r.idempotency_fingerprint,
    createdBy: r.created_by,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  } as Patch;
}
