import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lifecycle, statusNames, type ActionName, type PatchStatus } from '@patchflow/contracts';
import { startHarness, type Harness } from './harness.js';

/** A shortest path of actions from the initial status to `target`, found in the definition. */
function pathTo(target: PatchStatus): ActionName[] {
  const queue: { status: PatchStatus; path: ActionName[] }[] = [{ status: lifecycle.initialStatus, path: [] }];
  const seen = new Set<PatchStatus>();
  while (queue.length) {
    const { status, path } = queue.shift()!;
    if (status === target) return path;
    if (seen.has(status)) continue;
    seen.add(status);
    for (const a of lifecycle.actions) if (a.from.includes(status)) queue.push({ status: a.to, path: [...path, a.name] });
  }
  throw new Error(`no path to ${target}`);
}

let h: Harness;
beforeAll(async () => {
  h = await startHarness('rules');
});
afterAll(async () => {
  await h.close();
});

describe('every action from every status', () => {
  for (const status of statusNames) {
    for (const action of lifecycle.actions) {
      const allowed = action.from.includes(status);
      it(`${action.name} from ${status} is ${allowed ? 'allowed' : 'refused'}`, async () => {
        const patch = await h.createPatch();
        for (const step of pathTo(status)) {
          const r = await h.transition(patch.id, step, { reason: 'test' });
          expect(r.ok, JSON.stringify(r)).toBe(true);
        }
        const before = await h.count('patch_transition');
        const r = await h.transition(patch.id, action.name, { reason: 'because' });
        if (allowed) {
          expect(r).toMatchObject({
            ok: true,
            result: { patch: { status: action.to }, transition: { fromStatus: status, toStatus: action.to } },
          });
          expect(await h.count('patch_transition')).toBe(before + 1);
        } else {
          expect(r).toMatchObject({
            ok: false,
            error: {
              code: 'invalid_transition',
              details: { currentStatus: status, allowedActions: lifecycle.allowedActions(status) },
            },
          });
          expect(await h.count('patch_transition')).toBe(before);
        }
      });
    }
  }
});

describe('roles and required fields', () => {
  it('refuses a viewer any transition, naming the allowed roles', async () => {
    const patch = await h.createPatch();
    const r = await h.transition(patch.id, 'markActive', { role: 'viewer' });
    expect(r).toMatchObject({
      ok: false,
      error: { code: 'forbidden', details: { role: 'viewer', allowedRoles: ['operator', 'admin'] } },
    });
  });

  it('lets only an admin cancel', async () => {
    const patch = await h.createPatch();
    expect(await h.transition(patch.id, 'cancel', { role: 'operator', reason: 'dup' })).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
    expect(await h.transition(patch.id, 'cancel', { role: 'admin', reason: 'dup' })).toMatchObject({
      ok: true,
      result: { patch: { status: 'cancelled' } },
    });
  });

  it('demands a reason to cancel, naming the field, and writes nothing', async () => {
    const patch = await h.createPatch();
    const before = await h.count('patch_transition');
    const r = await h.transition(patch.id, 'cancel');
    expect(r).toMatchObject({ ok: false, error: { code: 'validation_failed', details: { fields: [{ path: 'reason' }] } } });
    expect(await h.count('patch_transition')).toBe(before);
  });

  it('answers not_found for an unknown patch', async () => {
    const r = await h.transition('00000000-0000-4000-8000-000000000000', 'markActive');
    expect(r).toMatchObject({ ok: false, error: { code: 'not_found' } });
  });

  it('checks expectedVersion and reports the current one', async () => {
    const patch = await h.createPatch();
    const r = await h.transition(patch.id, 'markActive', { expectedVersion: 7 });
    expect(r).toMatchObject({
      ok: false,
      error: { code: 'version_conflict', details: { currentVersion: 1, currentStatus: 'draft' } },
    });
    expect(await h.transition(patch.id, 'markActive', { expectedVersion: 1 })).toMatchObject({
      ok: true,
      result: { patch: { version: 2 } },
    });
  });

  it('writes patch, transition and work in one go, with the routed workflows', async () => {
    const patch = await h.createPatch();
    await h.transition(patch.id, 'markActive');
    const r = await h.transition(patch.id, 'startDeployment');
    if (!r.ok) throw new Error(JSON.stringify(r.error));
    const rows = await h.sql.query('SELECT payload FROM patch_transition_work WHERE id = $1', [r.result.transition.workId]);
    expect(rows.rows[0].payload).toMatchObject({
      workId: r.result.transition.workId,
      transition: { action: 'startDeployment', fromStatus: 'active', toStatus: 'in_deployment' },
      patch: { id: patch.id, status: 'in_deployment', version: 3 },
      workflows: ['successor', 'gitlab', 'jira', 'slack'],
    });
    const hist = await h.client.request((await import('@patchflow/contracts')).patchEndpoints.history, { patchId: patch.id });
    expect(hist).toMatchObject({
      ok: true,
      result: {
        transitions: [
          { action: 'markActive', patchVersion: 2 },
          { action: 'startDeployment', patchVersion: 3 },
        ],
      },
    });
  });
});
