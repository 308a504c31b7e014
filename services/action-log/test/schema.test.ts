import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, testLogLevel, type TestDatabase } from '@patchflow/testing';
import { createLogger } from '@patchflow/log';
import { openActionLogOrm, type ActionLogOrm } from '../src/index.js';

let db: TestDatabase;
let orm: ActionLogOrm;

beforeAll(async () => {
  db = await createTestDatabase('action_log_schema');
  orm = await openActionLogOrm(db.url, createLogger('action-log-schema-test', testLogLevel));
});

afterAll(async () => {
  await orm?.close();
  await db?.drop();
});

// The entities declare every column, index, key and check the migrations create (same names), so
// a migration generated from them never drops one, and a migration that forgets one fails here.
it('has no schema difference between the migrated database and the entities', async () => {
  const diff = await orm.schema.getUpdateSchemaSQL({ wrap: false, safe: false, dropTables: true });
  expect(diff.trim()).toBe('');
  // Down and up again gives the same result (the down migrations drop what the ups create).
  await orm.getMigrator().down({ to: 0 });
  await orm.getMigrator().up();
  expect((await orm.schema.getUpdateSchemaSQL({ wrap: false, safe: false, dropTables: true })).trim()).toBe('');
});
