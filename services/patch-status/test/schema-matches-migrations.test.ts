import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MikroORM } from '@mikro-orm/postgresql';
import { createLogger } from '@patchflow/log';
import { createTestDatabase, testPool, type TestDatabase } from '@patchflow/testing';
import type pg from 'pg';
import { initOrm, migrate } from '../src/orm.js';

// The entities must declare every constraint, index and foreign key the migrations create, under
// the same names: otherwise the first generated migration would drop them (the idempotency and
// one-successor guarantees, the optimistic lock). Triggers are not modelled by MikroORM, and the
// diff never mentions them (asserted below), so the immutability triggers live in migrations only.

let db: TestDatabase;
let orm: MikroORM;
let sql: pg.Pool;
beforeAll(async () => {
  db = await createTestDatabase('schema');
  orm = await initOrm(db.url, createLogger('schema-test', 'silent'));
  await migrate(orm);
  sql = testPool(db.url);
});
afterAll(async () => {
  await sql.end();
  await orm.close();
  await db.drop();
});

/** Lowercase, without schema prefix, `USING btree`, parentheses and repeated spaces. */
function normalizeIndexDdl(ddl: string): string {
  return ddl
    .toLowerCase()
    .replace(/\bpublic\./g, '')
    .replace(/\busing btree\b/g, '')
    .replace(/[()]/g, ' ')
    .replace(/\s+/g, ' ')
    .replace(/ ,/g, ',')
    .trim();
}

describe('the entities match the migrated schema', () => {
  it('after running every migration, the schema diff is empty', async () => {
    const diff = await orm.schema.getUpdateSchemaSQL({ wrap: false });
    expect(diff.trim()).toBe('');
  });

  it('the diff ignores the immutability triggers, which exist in the database but not in the entities', async () => {
    const r = await sql.query<{ tgname: string }>(
      `SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgrelid::regclass::text LIKE 'patch%' ORDER BY tgname`,
    );
    expect(r.rows.map((row) => row.tgname)).toEqual([
      'patch_transition_append_only',
      'patch_transition_no_truncate',
      'patch_transition_work_immutable',
      'patch_transition_work_no_delete',
      'patch_transition_work_no_truncate',
    ]);
    expect((await orm.schema.getUpdateSchemaSQL({ wrap: false })).trim()).toBe('');
  });

  it('the raw-DDL indexes (compared by name only by MikroORM) have the definitions the entities declare', async () => {
    const declared = Object.values(orm.getMetadata().getAll()).flatMap((meta) =>
      [...meta.indexes, ...meta.uniques].flatMap((i) =>
        typeof i.expression === 'string' ? [{ name: i.name!, ddl: i.expression }] : [],
      ),
    );
    expect(declared.map((d) => d.name).sort()).toEqual([
      'patch_idempotency_key',
      'patch_list',
      'patch_list_product',
      'patch_list_status',
      'patch_list_updated',
      'patch_one_successor',
      'patch_product_name',
      'patch_transition_work_unpublished',
    ]);
    const actual = await sql.query<{ indexname: string; indexdef: string }>(
      `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND indexname = ANY($1)`,
      [declared.map((d) => d.name)],
    );
    const byName = new Map(actual.rows.map((r) => [r.indexname, normalizeIndexDdl(r.indexdef)]));
    for (const d of declared) expect(byName.get(d.name), d.name).toBe(normalizeIndexDdl(d.ddl));
  });

  it('declares the four foreign keys, the check and the unique constraints under the migration names', async () => {
    const r = await sql.query<{ conname: string }>(
      `SELECT conname FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
        WHERE n.nspname = 'public' AND contype IN ('f', 'c', 'u') ORDER BY conname`,
    );
    expect(r.rows.map((row) => row.conname)).toEqual(
      expect.arrayContaining([
        'patch_predecessor_id_fkey',
        'patch_transition_idempotency',
        'patch_transition_patch_id_fkey',
        'patch_transition_version',
        'patch_transition_work_patch_id_fkey',
        'patch_transition_work_transition_id_fkey',
        'patch_transition_work_transition_id_key',
        'patch_version_check',
      ]),
    );
  });

  it('the diff is not blind: a constraint missing from the database shows up in it', async () => {
    await sql.query('ALTER TABLE patch DROP CONSTRAINT patch_version_check');
    try {
      const diff = await orm.schema.getUpdateSchemaSQL({ wrap: false });
      expect(diff).toContain('patch_version_check');
    } finally {
      await sql.query('ALTER TABLE patch ADD CONSTRAINT patch_version_check CHECK (version > 0)');
    }
    expect((await orm.schema.getUpdateSchemaSQL({ wrap: false })).trim()).toBe('');
  });
});

describe('migrating', () => {
  it('instances starting together on a fresh database take turns: one applies, the others find nothing', async () => {
    const fresh = await createTestDatabase('schema_race');
    const orms = await Promise.all([1, 2, 3].map(() => initOrm(fresh.url, createLogger('schema-test', 'silent'), 2)));
    try {
      const applied = await Promise.all(orms.map((o) => migrate(o)));
      expect(applied.flat()).toEqual([
        'Migration20261125000000_initial',
        'Migration20261126000000_immutable_audit',
        'Migration20261126010000_idempotency_scope',
        'Migration20261126020000_unique_product_name',
        'Migration20261126030000_list_by_updated',
      ]);
    } finally {
      await Promise.all(orms.map((o) => o.close()));
      await fresh.drop();
    }
  });
});
