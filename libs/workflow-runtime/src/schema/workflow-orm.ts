import { MikroORM } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import pg from 'pg';
import { Migration0001ExecutionTables } from './migration-0001-execution-tables.js';
import { Migration0002OperatorRepair } from './migration-0002-operator-repair.js';
import { Migration0003JiraIssuePosition } from './migration-0003-jira-issue-position.js';
import { JiraIssuePositionSchema } from './jira-issue-position.js';
import { WorkflowDeadLetterSchema } from './workflow-dead-letter.js';
import { WorkflowExecutionSchema } from './workflow-execution.js';

/** Every table of the workflow database, workflow-jira's own included: the schema diff covers them all. */
export const workflowEntities = [WorkflowExecutionSchema, WorkflowDeadLetterSchema, JiraIssuePositionSchema];

/**
 * Listed explicitly (no file globbing), so the tsx-run and the built service see the same list.
 * Add the next migration here; `test/workflow-schema.test.ts` fails until the entities and the
 * migrations agree.
 */
const migrationsList = [
  { name: 'Migration0001ExecutionTables', class: Migration0001ExecutionTables },
  { name: 'Migration0002OperatorRepair', class: Migration0002OperatorRepair },
  { name: 'Migration0003JiraIssuePosition', class: Migration0003JiraIssuePosition },
];

/**
 * The key every version of the workflow services takes before touching the schema; the code
 * before migrations took the same one (as a transaction lock), so old and new instances
 * starting together during an upgrade still take turns.
 */
const SCHEMA_LOCK = "SELECT pg_advisory_lock(hashtext('patchflow_workflow_schema'))";
const SCHEMA_UNLOCK = "SELECT pg_advisory_unlock(hashtext('patchflow_workflow_schema'))";

/** The workflow database's ORM: only the schema (migrations, diff) is owned through it. */
export async function openWorkflowOrm(databaseUrl: string): Promise<MikroORM> {
  return MikroORM.init({
    clientUrl: databaseUrl,
    entities: workflowEntities,
    extensions: [Migrator],
    allowGlobalContext: false,
    debug: false,
    forceUtcTimezone: true,
    pool: { min: 0, max: 2 },
    migrations: {
      tableName: 'workflow_migrations',
      migrationsList,
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      silent: true,
    },
  });
}

/**
 * Applies the pending migrations of the workflow database and returns their names. The four
 * workflow services share the database and start together: the migrations run under an
 * advisory lock, so one instance migrates and the others then find nothing to do.
 */
export async function migrateWorkflowDatabase(databaseUrl: string): Promise<string[]> {
  const lock = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5000 });
  lock.on('error', () => undefined);
  await lock.connect();
  try {
    await lock.query(SCHEMA_LOCK);
    const orm = await openWorkflowOrm(databaseUrl);
    try {
      const applied = await orm.getMigrator().up();
      return applied.map((m) => m.name);
    } finally {
      await orm.close();
    }
  } finally {
    await lock.query(SCHEMA_UNLOCK).catch(() => undefined);
    await lock.end().catch(() => undefined);
  }
}
