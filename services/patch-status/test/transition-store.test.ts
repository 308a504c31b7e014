import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PatchView } from '@patchflow/contracts';
import { buildWorkItem } from '@patchflow/testing';
import { TransitionStore } from '../src/transition-store.js';
import { startHarness, type Harness } from './harness.js';

let h: Harness;
let store: TransitionStore;
beforeAll(async () => {
  h = await startHarness('store');
  store = new TransitionStore(h.sql as never, { maxBatch: 64, maxInFlight: 1 });
});
afterAll(async () => {
  await h.close();
});

/** A commit request taking `patch` from `fromVersion` to the next version. */
function work(patch: PatchView, fromVersion: number, key: string | null = null) {
  return {
    fromVersion,
    idempotencyKey: key,
    requestFingerprint: null,
    work: buildWorkItem('markActive', { ...patch, version: fromVersion + 1 }),
  };
}

describe('batched commits', () => {
  it('many commits of one patch at one version in one batch: exactly one applies', async () => {
    const patch = await h.createPatch();
    const results = await Promise.all(Array.from({ length: 20 }, () => store.commit(work(patch, 1))));
    expect(results.filter(Boolean)).toHaveLength(1);
    const n = await h.sql.query('SELECT count(*)::int AS n FROM patch_transition_work WHERE patch_id = $1', [patch.id]);
    expect(n.rows[0].n).toBe(1);
    const v = await h.sql.query('SELECT version FROM patch WHERE id = $1', [patch.id]);
    expect(v.rows[0].version).toBe(2);
  });

  it('commits of different patches in one batch each apply, and a stale one does not', async () => {
    const patches = await Promise.all(Array.from({ length: 10 }, () => h.createPatch()));
    const results = await Promise.all([...patches.map((p) => store.commit(work(p, 1))), store.commit(work(patches[0]!, 7))]);
    expect(results).toEqual([...patches.map(() => true), false]);
  });

  it('a batch that hits a constraint falls back to one statement each, so neighbours still commit', async () => {
    const [a, b, c] = [await h.createPatch(), await h.createPatch(), await h.createPatch()];
    const first = work(a, 1);
    expect(await store.commit(first)).toBe(true);
    // Reusing a transition id violates the primary key: that row fails, its neighbour commits.
    // (The first commit runs alone; the two behind it share the next batch.)
    const clash = work(a, 2);
    clash.work.transition.id = first.work.transition.id;
    const results = await Promise.allSettled([store.commit(work(c, 1)), store.commit(work(b, 1)), store.commit(clash)]);
    expect(results[0]).toEqual({ status: 'fulfilled', value: true });
    expect(results[1]).toEqual({ status: 'fulfilled', value: true });
    expect(results[2]!.status).toBe('rejected');
  });

  it('loads many patches in one statement, in request order, with earlier keyed transitions', async () => {
    const [a, b] = [await h.createPatch(), await h.createPatch()];
    await h.transition(a.id, 'markActive', { idempotencyKey: 'load-k' });
    const [la, lb, missing] = await Promise.all([
      store.load(a.id, 'load-k'),
      store.load(b.id, 'load-k'),
      store.load('00000000-0000-4000-8000-000000000009', null),
    ]);
    expect(la?.patch.id).toBe(a.id);
    expect(la?.earlier?.transition.action).toBe('markActive');
    expect(lb).toMatchObject({ patch: { id: b.id }, earlier: null });
    expect(missing).toBeNull();
  });
});
