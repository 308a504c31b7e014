import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { patchEndpoints, type ContractError } from '@patchflow/contracts';
import { createLogger } from '@patchflow/log';
import { PatchStatusService } from '../src/patch-status-service.js';
import { TransitionStore } from '../src/transition-store.js';
import { startHarness, type Harness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('conc');
});
afterAll(async () => {
  await h.close();
});

describe('concurrent transitions of one patch', () => {
  it('50 at once over NATS: exactly one wins, every other is told the current status and version', async () => {
    const patch = await h.createPatch();
    const replies = await Promise.all(Array.from({ length: 50 }, () => h.transition(patch.id, 'markActive')));
    expect(replies.filter((r) => r.ok)).toHaveLength(1);
    for (const r of replies) {
      if (r.ok) continue;
      // Lost at write time (version_conflict) or read the new status first (invalid_transition).
      expect(r.error.code).toMatch(/^(version_conflict|invalid_transition)$/);
      expect(r.error.details).toMatchObject({ currentVersion: 2, currentStatus: 'active' });
    }
    const rows = await h.sql.query('SELECT count(*)::int AS n FROM patch_transition WHERE patch_id = $1', [patch.id]);
    expect(rows.rows[0].n).toBe(1);
    const work = await h.sql.query('SELECT count(*)::int AS n FROM patch_transition_work WHERE patch_id = $1', [patch.id]);
    expect(work.rows[0].n).toBe(1);
  });

  it('50 that all read the same version: one commits, the other 49 get version_conflict', async () => {
    const patch = await h.createPatch();
    // A store whose reads wait for each other, so every caller surely read version 1 before any
    // commit: the write race decides, and the losers must say the version moved on.
    const store = new TransitionStore(h.app.pool);
    let allRead = () => undefined as void;
    const everyoneRead = new Promise<void>((resolve) => (allRead = resolve));
    let reads = 0;
    const racing = Object.assign(Object.create(store) as TransitionStore, {
      async load(id: string, key: string | null) {
        const loaded = await store.load(id, key);
        if (++reads === 50) allRead();
        await everyoneRead;
        return loaded;
      },
    });
    const service = new PatchStatusService({
      orm: h.app.orm,
      transitions: racing,
      onCommitted: () => undefined,
      logger: createLogger('t', 'silent'),
    });
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, () =>
        service.transition({ patchId: patch.id, action: 'markActive', actor: { name: 't', role: 'operator' } }),
      ),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as ContractError] : []));
    expect(errors).toHaveLength(49);
    for (const e of errors)
      expect(e).toMatchObject({ code: 'version_conflict', details: { currentVersion: 2, currentStatus: 'active' } });
  });

  it('50 at once with the same expectedVersion on a moving patch: one transition per version', async () => {
    const patch = await h.createPatch();
    await h.transition(patch.id, 'markActive');
    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        h.transition(patch.id, i % 2 ? 'startDeployment' : 'cancel', { reason: 'race', expectedVersion: 2 }),
      ),
    );
    expect(replies.filter((r) => r.ok)).toHaveLength(1);
    const final = await h.client.call(patchEndpoints.get, { id: patch.id });
    expect(final.patch.version).toBe(3);
  });
});

describe('idempotency keys', () => {
  it('a repeated transition with the same key returns the first result and writes nothing', async () => {
    const patch = await h.createPatch();
    const first = await h.transition(patch.id, 'markActive', { idempotencyKey: 'k-1' });
    const before = await h.count('patch_transition_work');
    const again = await h.transition(patch.id, 'markActive', { idempotencyKey: 'k-1' });
    expect(first.ok && again.ok).toBe(true);
    if (!first.ok || !again.ok) return;
    expect(again.result.replayed).toBe(true);
    expect(again.result.transition).toEqual(first.result.transition);
    expect(again.result.patch).toEqual(first.result.patch);
    expect(await h.count('patch_transition_work')).toBe(before);
  });

  it('the same key sent 20 times at once commits once and answers all with that transition', async () => {
    const patch = await h.createPatch();
    const replies = await Promise.all(
      Array.from({ length: 20 }, () => h.transition(patch.id, 'markActive', { idempotencyKey: 'burst' })),
    );
    const ids = new Set(replies.map((r) => (r.ok ? r.result.transition.id : `error:${r.error.code}`)));
    expect(ids.size).toBe(1);
    expect([...ids][0]).not.toMatch(/^error/);
    const rows = await h.sql.query('SELECT count(*)::int AS n FROM patch_transition WHERE patch_id = $1', [patch.id]);
    expect(rows.rows[0].n).toBe(1);
  });

  it('a key reused for another action is refused as idempotency_key_reused, naming idempotencyKey', async () => {
    const patch = await h.createPatch();
    await h.transition(patch.id, 'markActive', { idempotencyKey: 'k-2' });
    const r = await h.transition(patch.id, 'startDeployment', { idempotencyKey: 'k-2' });
    expect(r).toMatchObject({ ok: false, error: { code: 'idempotency_key_reused', details: { field: 'idempotencyKey' } } });
  });

  it('creating a patch twice with one key returns the first patch', async () => {
    const req = { name: '2026.49.1', product: 'ledger', actor: 'tester', idempotencyKey: 'create-1' };
    const a = await h.client.call(patchEndpoints.create, req);
    const b = await h.client.call(patchEndpoints.create, req);
    expect(b).toEqual({ patch: a.patch, replayed: true });
  });

  it('exactly one successor per predecessor, however often and however concurrently asked', async () => {
    const predecessor = await h.createPatch();
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        h.client.call(patchEndpoints.create, {
          name: '2026.48.99',
          product: 'payments',
          actor: 'workflow-successor',
          predecessorId: predecessor.id,
          // Half the callers reuse one key (redelivery), half bring their own (a second startDeployment).
          idempotencyKey: i % 2 ? 'work-1' : `work-${i}`,
        }),
      ),
    );
    expect(new Set(replies.map((r) => r.patch.id)).size).toBe(1);
    expect(replies.filter((r) => !r.replayed)).toHaveLength(1);
    const got = await h.client.call(patchEndpoints.get, { id: predecessor.id });
    expect(got.successorId).toBe(replies[0]!.patch.id);
  });

  it('a successor of a patch that does not exist is not_found, naming predecessorId', async () => {
    const r = await h.client.request(patchEndpoints.create, {
      name: 'x',
      product: 'payments',
      actor: 't',
      predecessorId: '00000000-0000-4000-8000-000000000001',
    });
    expect(r).toMatchObject({ ok: false, error: { code: 'not_found', details: { field: 'predecessorId' } } });
  });
});
