import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeJson } from '@patchflow/bus';
import { patchEndpoints } from '@patchflow/contracts';
import { startHarness, type Harness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('input');
});
afterAll(async () => {
  await h.close();
});

function fieldPaths(reply: unknown): string[] {
  const fields = (reply as { error: { details: { fields: { path: string }[] } } }).error.details.fields;
  return [...new Set(fields.map((f) => f.path))].sort();
}

describe('malformed and schema-invalid requests', () => {
  const subjects = () => h.client.topology.subjects;

  it('answers a body that is not JSON with validation_failed and keeps answering', async () => {
    const r = await h.client.requestRaw(subjects().patchCreate, new TextEncoder().encode('{not json'));
    expect(r).toMatchObject({ ok: false, error: { code: 'validation_failed', details: { fields: [{ path: '(message)' }] } } });
    expect((await h.client.request(patchEndpoints.list, {})).ok).toBe(true);
  });

  it('names every invalid field of a create and writes nothing', async () => {
    const before = await h.count('patch');
    const r = await h.client.requestRaw(
      subjects().patchCreate,
      encodeJson({ name: '', product: 'Not Valid!', jiraKey: 'nope', actor: 'x' }),
    );
    expect(r).toMatchObject({ ok: false, error: { code: 'validation_failed' } });
    const fields = (r as { error: { details: { fields: { path: string }[] } } }).error.details.fields.map((f) => f.path);
    expect([...new Set(fields)].sort()).toEqual(['jiraKey', 'name', 'product']);
    expect(await h.count('patch')).toBe(before);
  });

  it('refuses an unknown action, a bad uuid and a wrong type in a transition, naming them', async () => {
    const patch = await h.createPatch();
    const r = await h.client.requestRaw(
      subjects().patchTransition,
      encodeJson({ patchId: 'nope', action: 'explode', actor: { name: 'x', role: 'god' }, expectedVersion: 'one' }),
    );
    const fields = (r as { error: { details: { fields: { path: string }[] } } }).error.details.fields.map((f) => f.path);
    expect(fields.sort()).toEqual(['action', 'actor.role', 'expectedVersion', 'patchId']);
    expect(await h.count('patch_transition')).toBe(0);
    expect((await h.transition(patch.id, 'markActive')).ok).toBe(true);
  });

  it('refuses NUL bytes and integers past Postgres integer with validation_failed, writing nothing', async () => {
    const patch = await h.createPatch();
    const before = { patch: await h.count('patch'), transitions: await h.count('patch_transition') };
    const create = await h.client.requestRaw(
      subjects().patchCreate,
      encodeJson({ name: '2026.\u0000.1', product: 'payments', actor: 'x\u0000', idempotencyKey: 'k\u0000' }),
    );
    expect(create).toMatchObject({ ok: false, error: { code: 'validation_failed' } });
    expect(fieldPaths(create)).toEqual(['actor', 'idempotencyKey', 'name']);
    const transition = await h.client.requestRaw(
      subjects().patchTransition,
      encodeJson({
        patchId: patch.id,
        action: 'cancel',
        actor: { name: 'tester', role: 'admin' },
        reason: 'bad\u0000byte',
        expectedVersion: 2 ** 40,
      }),
    );
    expect(transition).toMatchObject({ ok: false, error: { code: 'validation_failed' } });
    expect(fieldPaths(transition)).toEqual(['expectedVersion', 'reason']);
    expect({ patch: await h.count('patch'), transitions: await h.count('patch_transition') }).toEqual(before);
    // Still answering, and the patch untouched.
    expect(await h.client.call(patchEndpoints.get, { id: patch.id })).toMatchObject({ patch: { status: 'draft', version: 1 } });
  });

  it('refuses a cursor it did not issue', async () => {
    const r = await h.client.request(patchEndpoints.list, { cursor: 'garbage' });
    expect(r).toMatchObject({ ok: false, error: { code: 'validation_failed', details: { fields: [{ path: 'cursor' }] } } });
  });
});

describe('listing', () => {
  it('filters by status and product and pages with a cursor, newest created first (sort=created)', async () => {
    const made = [];
    for (let i = 0; i < 7; i++) made.push(await h.createPatch({ product: 'listing', name: `2027.1.${i}` }));
    await h.transition(made[0]!.id, 'markActive');
    await h.transition(made[3]!.id, 'markActive');
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await h.client.call(patchEndpoints.list, {
        product: 'listing',
        sort: 'created',
        limit: 3,
        ...(cursor ? { cursor } : {}),
      });
      expect(page.items.length).toBeLessThanOrEqual(3);
      seen.push(...page.items.map((p) => p.name));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual(made.map((p) => p.name).reverse());
    const active = await h.client.call(patchEndpoints.list, { product: 'listing', status: 'active' });
    expect(active.items.map((p) => p.name).sort()).toEqual(['2027.1.0', '2027.1.3']);
  });

  it('get returns the allowed actions and the successor', async () => {
    const p = await h.createPatch();
    const got = await h.client.call(patchEndpoints.get, { id: p.id });
    expect(got).toMatchObject({
      patch: { id: p.id, status: 'draft' },
      allowedActions: ['markActive', 'cancel'],
      successorId: null,
    });
  });
});
