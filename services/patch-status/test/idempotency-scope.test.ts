import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { patchEndpoints, type CreatePatchRequest, type TransitionRequest } from '@patchflow/contracts';
import { buildWork } from '../src/patch-status-service.js';
import { TransitionStore } from '../src/transition-store.js';
import { startHarness, type Harness } from './harness.js';

// Idempotency keys are scoped to the caller and bound to the request (security item 7): a key
// never hands one caller another caller's result, and a key reused for another request is
// refused with idempotency_key_reused (the gateway answers 422).

let h: Harness;
beforeAll(async () => {
  h = await startHarness('idem');
});
afterAll(async () => {
  await h.close();
});

const create = (req: CreatePatchRequest) => h.client.request(patchEndpoints.create, req);
const transition = (req: TransitionRequest) => h.client.request(patchEndpoints.transition, req);
const reused = { ok: false, error: { code: 'idempotency_key_reused', details: { field: 'idempotencyKey' } } };

describe('create', () => {
  it('the same key from another caller: idempotency_key_reused (same or different body), never the first patch', async () => {
    const alice = await create({ name: '2026.51.1', product: 'payments', actor: 'alice', idempotencyKey: 'shared-1' });
    expect(alice).toMatchObject({ ok: true, result: { replayed: false, patch: { name: '2026.51.1' } } });
    const before = await h.sql.query('SELECT count(*)::int AS n FROM patch');
    const bobOther = await create({ name: '2026.51.7', product: 'ledger', actor: 'bob', idempotencyKey: 'shared-1' });
    const bobSame = await create({ name: '2026.51.1', product: 'payments', actor: 'bob', idempotencyKey: 'shared-1' });
    expect(bobOther).toMatchObject(reused);
    expect(bobSame).toMatchObject(reused);
    expect((await h.sql.query('SELECT count(*)::int AS n FROM patch')).rows[0].n).toBe(before.rows[0].n);
    // The owner still replays.
    const aliceAgain = await create({ name: '2026.51.1', product: 'payments', actor: 'alice', idempotencyKey: 'shared-1' });
    if (alice.ok)
      expect(aliceAgain).toMatchObject({ ok: true, result: { replayed: true, patch: { id: alice.result.patch.id } } });
  });

  it('the same caller, same key, another body: idempotency_key_reused, and nothing is written', async () => {
    const first = await create({ name: '2026.52.1', product: 'payments', actor: 'alice', idempotencyKey: 'k-body' });
    expect(first.ok).toBe(true);
    const before = await h.count('patch');
    for (const changed of [{ name: '2026.52.2' }, { product: 'ledger' }, { jiraKey: 'PAY-1' }, { gitRef: 'release/52' }]) {
      const r = await create({ name: '2026.52.1', product: 'payments', actor: 'alice', idempotencyKey: 'k-body', ...changed });
      expect(r, JSON.stringify(changed)).toMatchObject(reused);
    }
    expect(await h.count('patch')).toBe(before);
  });

  it('the same caller, same key, same body: the first patch, replayed', async () => {
    const req = { name: '2026.53.1', product: 'payments', actor: 'alice', jiraKey: 'PAY-53', idempotencyKey: 'k-same' };
    const a = await h.client.call(patchEndpoints.create, req);
    const b = await h.client.call(patchEndpoints.create, req);
    expect(a.replayed).toBe(false);
    expect(b).toEqual({ patch: a.patch, replayed: true });
  });

  it('racing requests with one key and different bodies: one patch, the others refused', async () => {
    const before = await h.count('patch');
    const replies = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        create({ name: `2026.54.${i}`, product: 'payments', actor: 'carol', idempotencyKey: 'k-race' }),
      ),
    );
    expect(replies.filter((r) => r.ok)).toHaveLength(1);
    for (const r of replies) if (!r.ok) expect(r).toMatchObject(reused);
    expect(await h.count('patch')).toBe(before + 1);
  });

  it('the successor workflow (actor = the workflow, key = the work id) stays idempotent', async () => {
    const predecessor = await h.createPatch({ name: '2026.55.1' });
    const req = {
      name: '2026.55.2',
      product: 'payments',
      actor: 'workflow-successor',
      predecessorId: predecessor.id,
      idempotencyKey: '7d1f2b4e-6a53-4c38-9a43-3f0d2c1e9b10',
    };
    const first = await h.client.call(patchEndpoints.create, req);
    const redelivered = await h.client.call(patchEndpoints.create, req);
    expect(first.replayed).toBe(false);
    expect(redelivered).toEqual({ patch: first.patch, replayed: true });
    // A second startDeployment (another work id) still finds the one successor.
    const secondWork = await h.client.call(patchEndpoints.create, { ...req, idempotencyKey: 'another-work-id' });
    expect(secondWork).toEqual({ patch: first.patch, replayed: true });
  });
});

describe('transition', () => {
  it('the same key on one patch from another caller: idempotency_key_reused, nothing written', async () => {
    const patch = await h.createPatch();
    const alice = await transition({
      patchId: patch.id,
      action: 'markActive',
      actor: { name: 'alice', role: 'operator' },
      idempotencyKey: 't-1',
    });
    expect(alice).toMatchObject({ ok: true, result: { replayed: false } });
    const before = await h.count('patch_transition');
    const bob = await transition({
      patchId: patch.id,
      action: 'markActive',
      actor: { name: 'bob', role: 'operator' },
      idempotencyKey: 't-1',
    });
    expect(bob).toMatchObject(reused);
    expect(await h.count('patch_transition')).toBe(before);
  });

  it('the same caller, same key, another body (reason, expectedVersion or action): refused', async () => {
    const patch = await h.createPatch();
    const base: TransitionRequest = {
      patchId: patch.id,
      action: 'cancel',
      actor: { name: 'alice', role: 'admin' },
      reason: 'dup',
      idempotencyKey: 't-2',
    };
    expect((await transition(base)).ok).toBe(true);
    const before = await h.count('patch_transition');
    for (const changed of [{ reason: 'another reason' }, { expectedVersion: 1 }, { action: 'markActive' as const }]) {
      expect(await transition({ ...base, ...changed }), JSON.stringify(changed)).toMatchObject(reused);
    }
    expect(await h.count('patch_transition')).toBe(before);
  });

  it('the same caller, same key, same body: replayed, also when many arrive at once (batched reads)', async () => {
    const patch = await h.createPatch();
    const req: TransitionRequest = {
      patchId: patch.id,
      action: 'markActive',
      actor: { name: 'alice', role: 'operator' },
      expectedVersion: 1,
      idempotencyKey: 't-3',
    };
    const first = await transition(req);
    expect(first).toMatchObject({ ok: true, result: { replayed: false } });
    const again = await Promise.all(Array.from({ length: 10 }, () => transition(req)));
    for (const r of again) {
      expect(r).toMatchObject({ ok: true, result: { replayed: true } });
      if (r.ok && first.ok) expect(r.result.transition).toEqual(first.result.transition);
    }
    // Another caller's burst on the same key, batched with a replay: each is told apart.
    const mixed = await Promise.all([transition(req), transition({ ...req, actor: { name: 'mallory', role: 'operator' } })]);
    expect(mixed[0]).toMatchObject({ ok: true, result: { replayed: true } });
    expect(mixed[1]).toMatchObject(reused);
  });

  it('stores the fingerprint only with a key: keyless transitions write none', async () => {
    const patch = await h.createPatch();
    expect((await h.transition(patch.id, 'markActive')).ok).toBe(true);
    const r = await h.sql.query('SELECT idempotency_key, request_fingerprint FROM patch_transition WHERE patch_id = $1', [
      patch.id,
    ]);
    expect(r.rows).toEqual([{ idempotency_key: null, request_fingerprint: null }]);
  });
});

describe('rows keyed before fingerprints were stored', () => {
  it('a create replays for the same caller; another caller is refused', async () => {
    const legacy = await h.createPatch({ name: '2026.56.1' });
    // As the idempotency_scope migration leaves an older row: a key, no fingerprint.
    await h.sql.query(`UPDATE patch SET idempotency_key = 'legacy-c', created_by = 'dave' WHERE id = $1`, [legacy.id]);
    const again = await create({ name: '2026.56.1', product: 'payments', actor: 'dave', idempotencyKey: 'legacy-c' });
    expect(again).toMatchObject({ ok: true, result: { replayed: true, patch: { id: legacy.id } } });
    const other = await create({ name: '2026.56.1', product: 'payments', actor: 'erin', idempotencyKey: 'legacy-c' });
    expect(other).toMatchObject(reused);
  });

  it('a transition replays when caller and action match, and is refused otherwise', async () => {
    const patch = await h.createPatch();
    const store = new TransitionStore(h.app.pool);
    const loaded = await store.load(patch.id, null);
    const work = buildWork(
      loaded!.patch,
      { patchId: patch.id, action: 'markActive', actor: { name: 'dave', role: 'operator' } },
      'active',
    );
    // Committed without a fingerprint, as before the migration.
    expect(await store.commit({ work, fromVersion: 1, idempotencyKey: 'legacy-t' })).toBe(true);
    const req: TransitionRequest = {
      patchId: patch.id,
      action: 'markActive',
      actor: { name: 'dave', role: 'operator' },
      idempotencyKey: 'legacy-t',
    };
    expect(await transition(req)).toMatchObject({ ok: true, result: { replayed: true, transition: { id: work.transition.id } } });
    expect(await transition({ ...req, actor: { name: 'erin', role: 'operator' } })).toMatchObject(reused);
    expect(await transition({ ...req, action: 'cancel', reason: 'x' })).toMatchObject(reused);
  });
});
