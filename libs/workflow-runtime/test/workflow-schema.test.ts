import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase, testPool, type TestDatabase } from '@patchflow/testing';
import { ExecutionStore } from '../src/index.js';
import { migrateWorkflowDatabase, openWorkflowOrm } from '../src/schema/index.js';

/**
 * The schema as `execution-store.ts` created it before migrations (commit c584626), verbatim:
 * a running install has exactly these tables, made by this text.
 */
const LEGACY_DDL = `
CREATE TABLE IF NOT EXISTS workflow_execution (
  workflow      text        NOT NULL,
  work_id       uuid        NOT NULL,
  action        text        NOT NULL,
  patch_id      uuid        NOT NULL,
  status        text        NOT NULL CHECK (status IN ('running', 'retrying', 'succeeded', 'failed')),
  attempts      integer     NOT NULL DEFAULT 0,
  last_error    text,
  external_ref  jsonb       NOT NULL DEFAULT '{}'::jsonb,
  lease_until   timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workflow, work_id)
);
CREATE TABLE IF NOT EXISTS workflow_dead_letter (
  workflow          text        NOT NULL,
  work_id           uuid        NOT NULL,
  work              jsonb       NOT NULL,
  reason            text        NOT NULL,
  attempts          integer     NOT NULL,
  dead_lettered_at  timestamptz NOT NULL DEFAULT now(),
  retried_at        timestamptz,
  retries           integer     NOT NULL DEFAULT 0,
  PRIMARY KEY (workflow, work_id)
);
CREATE INDEX IF NOT EXISTS workflow_dead_letter_open ON workflow_dead_letter (workflow, dead_lettered_at) WHERE retried_at IS NULL;
`;

/**
 * workflow-jira's table as that service created it at first use, before it had a migration
 * (`services/workflow-jira/src/issue-positions.ts` at commit 6d90cad), verbatim, with the lock it took.
 */
const LEGACY_JIRA_DDL = `
BEGIN;
SELECT pg_advisory_xact_lock(hashtext('patchflow_jira_issue_position'));
CREATE TABLE IF NOT EXISTS jira_issue_position (
        jira_key text NOT NULL,
        patch_id uuid NOT NULL,
        patch_version integer NOT NULL,
        action text NOT NULL,
        status text NOT NULL,
        moved_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (jira_key, patch_id)
      );
COMMIT;
`;

const TABLES = `('workflow_execution', 'workflow_dead_letter', 'jira_issue_position')`;

/** Everything Postgres knows about the tables: columns, constraints and index definitions. */
async function describeSchema(url: string): Promise<unknown> {
  const pool = testPool(url);
  try {
    const columns = await pool.query(
      `SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name IN ${TABLES} ORDER BY table_name, ordinal_position`,
    );
    const constraints = await pool.query(
      `SELECT conrelid::regclass::text AS table_name, conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
        WHERE conrelid::regclass::text IN ${TABLES} ORDER BY 1, 2`,
    );
    const indexes = await pool.query(
      `SELECT tablename, indexname, indexdef FROM pg_indexes
        WHERE schemaname = 'public' AND tablename IN ${TABLES} ORDER BY 1, 2`,
    );
    return { columns: columns.rows, constraints: constraints.rows, indexes: indexes.rows };
  } finally {
    await pool.end();
  }
}

async function schemaDiff(url: string): Promise<string> {
  const orm = await openWorkflowOrm(url);
  try {
    return (await orm.schema.getUpdateSchemaSQL({ wrap: false })).trim();
  } finally {
    await orm.close();
  }
}

/** Every migration, in order (`schema/workflow-orm.ts`). */
const ALL_MIGRATIONS = ['Migration0001ExecutionTables', 'Migration0002OperatorRepair', 'Migration0003JiraIssuePosition'];

describe('workflow database schema (MikroORM migrations)', () => {
  const dbs: TestDatabase[] = [];
  const fresh = async (label: string) => {
    const db = await createTestDatabase(label);
    dbs.push(db);
    return db;
  };
  afterAll(async () => {
    for (const db of dbs) await db.drop();
  });

  it('migrates an empty database to exactly the entities: the schema diff is empty, and a rerun applies nothing', async () => {
    const db = await fresh('wf_schema_new');
    expect(await migrateWorkflowDatabase(db.url)).toEqual(ALL_MIGRATIONS);
    expect(await schemaDiff(db.url)).toBe('');
    expect(await migrateWorkflowDatabase(db.url)).toEqual([]);
  });

  it('gives the same tables, constraints and indexes from empty as from the legacy DDL', async () => {
    const migrated = await fresh('wf_schema_mig');
    await migrateWorkflowDatabase(migrated.url);
    const legacy = await fresh('wf_schema_leg');
    const pool = testPool(legacy.url);
    await pool.query(LEGACY_DDL);
    await pool.query(LEGACY_JIRA_DDL);
    await pool.end();
    await migrateWorkflowDatabase(legacy.url);
    expect(await describeSchema(migrated.url)).toEqual(await describeSchema(legacy.url));
    // The partial index is compared by name only by MikroORM's diff: pin its definition here.
    const { indexes } = (await describeSchema(migrated.url)) as { indexes: { indexname: string; indexdef: string }[] };
    expect(indexes.find((i) => i.indexname === 'workflow_dead_letter_open')?.indexdef).toBe(
      'CREATE INDEX workflow_dead_letter_open ON public.workflow_dead_letter USING btree (workflow, dead_lettered_at) WHERE ((retried_at IS NULL) AND (discarded_at IS NULL))',
    );
  });

  it('adopts a running install made by the legacy DDL: its rows stay, the migration is recorded, the diff is empty', async () => {
    const db = await fresh('wf_schema_adopt');
    const pool = testPool(db.url);
    try {
      await pool.query(LEGACY_DDL);
      await pool.query(
        `INSERT INTO workflow_execution (workflow, work_id, action, patch_id, status, attempts, external_ref)
         VALUES ('gitlab', gen_random_uuid(), 'markActive', gen_random_uuid(), 'succeeded', 1, '{"pipelineId": 7}')`,
      );
      const store = await ExecutionStore.open(db.url, 'gitlab', 1);
      expect(store.appliedMigrations).toEqual(ALL_MIGRATIONS);
      await store.close();
      const rows = await pool.query('SELECT status, external_ref FROM workflow_execution');
      expect(rows.rows).toEqual([{ status: 'succeeded', external_ref: { pipelineId: 7 } }]);
      const recorded = await pool.query('SELECT name FROM workflow_migrations');
      expect(recorded.rows.map((r: { name: string }) => r.name)).toEqual(ALL_MIGRATIONS);
    } finally {
      await pool.end();
    }
    expect(await schemaDiff(db.url)).toBe('');
  });

  it('adopts a jira_issue_position made by workflow-jira before its migration: rows stay, only that migration runs, the diff is empty', async () => {
    const db = await fresh('wf_schema_jira');
    // An install of the previous version: the first two migrations, and the table workflow-jira made at first use.
    const orm = await openWorkflowOrm(db.url);
    await orm.getMigrator().up({ to: 'Migration0002OperatorRepair' });
    await orm.close();
    const pool = testPool(db.url);
    try {
      await pool.query(LEGACY_JIRA_DDL);
      await pool.query(
        `INSERT INTO jira_issue_position (jira_key, patch_id, patch_version, action, status)
         VALUES ('PAY-48', '6f1c1a9e-8f57-4b8e-9d3e-2a7f0c1d2e3f', 3, 'startDeployment', 'Ready for QA')`,
      );
      expect(await migrateWorkflowDatabase(db.url)).toEqual(['Migration0003JiraIssuePosition']);
      const rows = await pool.query('SELECT jira_key, patch_version, action, status FROM jira_issue_position');
      expect(rows.rows).toEqual([{ jira_key: 'PAY-48', patch_version: 3, action: 'startDeployment', status: 'Ready for QA' }]);
      // The primary key is part of the schema: one row per issue and patch.
      await expect(
        pool.query(
          `INSERT INTO jira_issue_position (jira_key, patch_id, patch_version, action, status)
           VALUES ('PAY-48', '6f1c1a9e-8f57-4b8e-9d3e-2a7f0c1d2e3f', 4, 'close', 'Done')`,
        ),
      ).rejects.toThrow(/jira_issue_position_pkey/);
    } finally {
      await pool.end();
    }
    expect(await schemaDiff(db.url)).toBe('');
    const fromEmpty = await fresh('wf_schema_jira_new');
    await migrateWorkflowDatabase(fromEmpty.url);
    expect(await describeSchema(db.url)).toEqual(await describeSchema(fromEmpty.url));
  });

  it('four services starting together on one database: one migrates, the others find nothing to do', async () => {
    const db = await fresh('wf_schema_race');
    const results = await Promise.all(Array.from({ length: 4 }, () => migrateWorkflowDatabase(db.url)));
    expect(results.flat()).toEqual(ALL_MIGRATIONS);
    expect(await schemaDiff(db.url)).toBe('');
  });

  it('keeps refusing an unknown execution status (the CHECK is part of the schema)', async () => {
    const db = await fresh('wf_schema_check');
    await migrateWorkflowDatabase(db.url);
    const pool = testPool(db.url);
    try {
      await expect(
        pool.query(
          `INSERT INTO workflow_execution (workflow, work_id, action, patch_id, status) VALUES ('slack', gen_random_uuid(), 'close', gen_random_uuid(), 'paused')`,
        ),
      ).rejects.toThrow(/workflow_execution_status_check/);
    } finally {
      await pool.end();
    }
  });
});
