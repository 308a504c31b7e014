/**
 * What both peers share: their tables, the transition's SQL (read, versioned update, insert the
 * transition — the same statements as Patchflow's transition, on plain pg) and the job a routed
 * workflow gets.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { ActionName, WorkflowName } from '@patchflow/contracts';

export const PEER_SCHEMA = `
  CREATE TABLE IF NOT EXISTS bench_patch (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    product text NOT NULL,
    status text NOT NULL,
    version int NOT NULL,
    jira_key text,
    git_ref text,
    predecessor_id uuid UNIQUE,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
  );
  CREATE TABLE IF NOT EXISTS bench_transition (
    id uuid PRIMARY KEY,
    patch_id uuid NOT NULL REFERENCES bench_patch (id),
    action text NOT NULL,
    from_status text NOT NULL,
    to_status text NOT NULL,
    actor text NOT NULL,
    patch_version int NOT NULL,
    created_at timestamptz NOT NULL,
    UNIQUE (patch_id, patch_version)
  );
  -- One row per step, as Patchflow's action history has one per step.
  CREATE TABLE IF NOT EXISTS bench_step (
    id bigserial PRIMARY KEY,
    transition_id uuid NOT NULL,
    workflow text NOT NULL,
    subaction_type text NOT NULL,
    message text NOT NULL,
    metadata jsonb NOT NULL,
    -- When the worker started this job: commit → first started is the pickup.
    started_at timestamptz NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
  );
  CREATE INDEX IF NOT EXISTS bench_step_transition_idx ON bench_step (transition_id);`;

/** The two moves the benchmark makes (the default lifecycle's). */
const MOVES: Partial<Record<ActionName, { from: string; to: string }>> = {
  markActive: { from: 'draft', to: 'active' },
  startDeployment: { from: 'active', to: 'in_deployment' },
};

/** What a workflow's job carries: the context its effect needs. */
export interface PeerJob {
  transitionId: string;
  workflow: WorkflowName;
  patchId: string;
  name: string;
  product: string;
  jiraKey: string | null;
  gitRef: string | null;
  action: ActionName;
  fromStatus: string;
  toStatus: string;
  createdAt: string;
}

export async function createPatch(db: pg.Pool, name: string, jiraKey: string): Promise<string> {
  const id = randomUUID();
  const now = new Date();
  await db.query({
    name: 'bench_create_patch',
    text: `INSERT INTO bench_patch (id, name, product, status, version, jira_key, created_at, updated_at) VALUES ($1, $2, 'bench', 'draft', 1, $3, $4, $4)`,
    values: [id, name, jiraKey, now],
  });
  return id;
}

/**
 * One transition in one transaction; `enqueue` runs inside it (pg-boss) or nothing does (BullMQ
 * adds its jobs after the commit). The commit time is stamped before the transaction, as
 * Patchflow stamps `createdAt`.
 */
export async function transition(
  db: pg.Pool,
  patchId: string,
  action: ActionName,
  workflows: readonly WorkflowName[],
  enqueue?: (client: pg.PoolClient, jobs: PeerJob[]) => Promise<void>,
): Promise<{ transitionId: string; createdAt: Date; jobs: PeerJob[] }> {
  const move = MOVES[action];
  if (!move) throw new Error(`the benchmark does not take ${action}`);
  const client = await db.connect();
  const createdAt = new Date();
  const transitionId = randomUUID();
  try {
    await client.query('BEGIN');
    const r = await client.query<{
      name: string;
      product: string;
      status: string;
      version: number;
      jira_key: string | null;
      git_ref: string | null;
    }>({
      name: 'bench_read_patch',
      text: 'SELECT name, product, status, version, jira_key, git_ref FROM bench_patch WHERE id = $1',
      values: [patchId],
    });
    const patch = r.rows[0];
    if (!patch) throw new Error(`no patch ${patchId}`);
    if (patch.status !== move.from) throw new Error(`patch ${patchId} is ${patch.status}, not ${move.from}`);
    const updated = await client.query({
      name: 'bench_update_patch',
      text: 'UPDATE bench_patch SET status = $2, version = version + 1, updated_at = $3 WHERE id = $1 AND version = $4',
      values: [patchId, move.to, createdAt, patch.version],
    });
    if (updated.rowCount !== 1) throw new Error(`version conflict on ${patchId}`);
    await client.query({
      name: 'bench_insert_transition',
      text: `INSERT INTO bench_transition (id, patch_id, action, from_status, to_status, actor, patch_version, created_at)
             VALUES ($1, $2, $3, $4, $5, 'bench', $6, $7)`,
      values: [transitionId, patchId, action, move.from, move.to, patch.version + 1, createdAt],
    });
    const jobs = workflows.map((workflow) => ({
      transitionId,
      workflow,
      patchId,
      name: patch.name,
      product: patch.product,
      jiraKey: patch.jira_key,
      gitRef: patch.git_ref,
      action,
      fromStatus: move.from,
      toStatus: move.to,
      createdAt: createdAt.toISOString(),
    }));
    if (enqueue) await enqueue(client, jobs);
    await client.query('COMMIT');
    return { transitionId, createdAt, jobs };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
