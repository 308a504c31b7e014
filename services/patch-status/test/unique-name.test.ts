import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { patchEndpoints } from '@patchflow/contracts';
import { createLogger } from '@patchflow/log';
import { createTestDatabase, testPool } from '@patchflow/testing';
import { initOrm, migrate } from '../src/orm.js';
import { startHarness, type Harness } from './harness.js';

// A product has one patch of each name. A second create is `duplicate_patch` (HTTP 409); the
// successor workflow's create links a successor opened by hand instead of failing forever.

let h: Harness;
beforeAll(async () => {
  h = await startHarness('unique_name');
});
afterAll(async () => {
  await h.close();
});

const create = (req: { name: string; product: string; predecessorId?: string; idempotencyKey?: string; actor?: string }) =>
  h.client.request(patchEndpoints.create, { actor: 'tester', ...req });

describe('one patch of each name per product', () => {
  it('a second create of the same product and name is duplicate_patch, naming the existing patch, and writes nothing', async () => {
    const first = await create({ name: '2026.48.1', product: 'dup' });
    expect(first).toMatchObject({ ok: true, result: { replayed: false } });
    const before = await h.count('patch');
    const second = await create({ name: '2026.48.1', product: 'dup' });
    expect(second).toMatchObject({
      ok: false,
      error: { code: 'duplicate_patch', details: { field: 'name', product: 'dup', name: '2026.48.1' } },
    });
    if (!second.ok && first.ok) {
      expect(second.error.message).toBe(`product dup already has a patch named "2026.48.1" (${first.result.patch.id})`);
      expect(second.error.details?.existingId).toBe(first.result.patch.id);
    }
    expect(await h.count('patch')).toBe(before);
    const list = await h.client.call(patchEndpoints.list, { product: 'dup', limit: 50 });
    expect(list.items.map((p) => p.name)).toEqual(['2026.48.1']);
  });

  it('the same name in another product is fine; a repeated keyed create still replays', async () => {
    expect(await create({ name: '2026.48.1', product: 'dup-other' })).toMatchObject({ ok: true });
    const a = await create({ name: '7.0.1', product: 'dup', idempotencyKey: 'k-7' });
    const b = await create({ name: '7.0.1', product: 'dup', idempotencyKey: 'k-7' });
    expect(a).toMatchObject({ ok: true, result: { replayed: false } });
    expect(b).toMatchObject({ ok: true, result: { replayed: true } });
  });

  it('ten concurrent creates of one name: exactly one patch, the others duplicate_patch', async () => {
    const replies = await Promise.all(Array.from({ length: 10 }, () => create({ name: '9.9.1', product: 'race' })));
    expect(replies.filter((r) => r.ok)).toHaveLength(1);
    expect(replies.filter((r) => !r.ok).map((r) => (r.ok ? '' : r.error.code))).toEqual(Array(9).fill('duplicate_patch'));
  });
});

describe("the successor's name created by hand", () => {
  it('becomes the successor (linked, replayed) when it has no predecessor; asking again answers the same', async () => {
    const pred = await create({ name: '2026.48.1', product: 'link' });
    const byHand = await create({ name: '2026.48.2', product: 'link', actor: 'alice' });
    if (!pred.ok || !byHand.ok) throw new Error('setup');
    const asWorkflow = { name: '2026.48.2', product: 'link', predecessorId: pred.result.patch.id, actor: 'workflow-successor' };
    const linked = await create({ ...asWorkflow, idempotencyKey: 'work-1' });
    expect(linked).toMatchObject({
      ok: true,
      result: { replayed: true, patch: { id: byHand.result.patch.id, predecessorId: pred.result.patch.id } },
    });
    // Redelivered (same key) and a second startDeployment (another key): the same successor.
    for (const key of ['work-1', 'work-2']) {
      expect(await create({ ...asWorkflow, idempotencyKey: key })).toMatchObject({
        ok: true,
        result: { replayed: true, patch: { id: byHand.result.patch.id } },
      });
    }
    const got = await h.client.call(patchEndpoints.get, { id: pred.result.patch.id });
    expect(got.successorId).toBe(byHand.result.patch.id);
  });

  it('one that already succeeds another patch is not taken: duplicate_patch, saying why', async () => {
    const a = await create({ name: '1.0.1', product: 'taken' });
    const other = await create({ name: '0.0.1', product: 'taken' });
    if (!a.ok || !other.ok) throw new Error('setup');
    const taken = await create({ name: '1.0.2', product: 'taken', predecessorId: other.result.patch.id });
    expect(taken).toMatchObject({ ok: true, result: { replayed: false } });
    const r = await create({ name: '1.0.2', product: 'taken', predecessorId: a.result.patch.id, actor: 'workflow-successor' });
    expect(r).toMatchObject({ ok: false, error: { code: 'duplicate_patch' } });
    if (!r.ok)
      expect(r.error.message).toMatch(
        /^product taken already has a patch named "1\.0\.2" \([0-9a-f-]{36}\); it cannot become the successor: it already has a predecessor/,
      );
    expect((await h.client.call(patchEndpoints.get, { id: a.result.patch.id })).successorId).toBeNull();
  });

  it('an ancestor of the predecessor is never linked (no cycle)', async () => {
    const root = await create({ name: '3.0.2', product: 'cycle' });
    if (!root.ok) throw new Error('setup');
    const child = await create({ name: '3.0.1', product: 'cycle', predecessorId: root.result.patch.id });
    if (!child.ok) throw new Error('setup');
    const r = await create({ name: '3.0.2', product: 'cycle', predecessorId: child.result.patch.id });
    expect(r).toMatchObject({ ok: false, error: { code: 'duplicate_patch' } });
    const rootNow = await h.client.call(patchEndpoints.get, { id: root.result.patch.id });
    expect(rootNow.patch.predecessorId).toBeNull();
  });
});

describe('migrating a database that holds duplicates', () => {
  it('stops with a message naming each duplicate and changes nothing; after a rename it applies', async () => {
    const db = await createTestDatabase('unique_name_migrate');
    const orm = await initOrm(db.url, createLogger('unique-name-test', 'silent'), 2);
    const sql = testPool(db.url);
    try {
      await orm.getMigrator().up({ to: 'Migration20261126010000_idempotency_scope' });
      await sql.query(
        `INSERT INTO patch (id, name, product, status, version, created_by, created_at, updated_at) VALUES
           ('00000000-0000-4000-8000-000000000001', '2026.48.1', 'payments', 'draft', 1, 't', now() - interval '1 minute', now()),
           ('00000000-0000-4000-8000-000000000002', '2026.48.1', 'payments', 'draft', 1, 't', now(), now()),
           ('00000000-0000-4000-8000-000000000003', '2026.48.1', 'billing', 'draft', 1, 't', now(), now())`,
      );
      await expect(migrate(orm)).rejects.toThrow(
        'cannot make patch names unique per product: duplicates exist: payments 2026.48.1 ' +
          '(00000000-0000-4000-8000-000000000001, 00000000-0000-4000-8000-000000000002)',
      );
      const idx = await sql.query(`SELECT 1 FROM pg_indexes WHERE indexname = 'patch_product_name'`);
      expect(idx.rowCount).toBe(0);
      expect((await sql.query('SELECT count(*)::int AS n FROM patch')).rows[0]).toEqual({ n: 3 });
      await sql.query(`UPDATE patch SET name = name || '-dup' WHERE id = '00000000-0000-4000-8000-000000000002'`);
      expect(await migrate(orm)).toEqual([
        'Migration20261126020000_unique_product_name',
        'Migration20261126030000_list_by_updated',
      ]);
    } finally {
      await sql.end();
      await orm.close();
      await db.drop();
    }
  });
});
