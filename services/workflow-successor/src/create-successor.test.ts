import { describe, expect, it } from 'vitest';
import type { CreatePatchResult, PatchView } from '@patchflow/contracts';
import { buildWorkItem, fakeWorkflowInput } from '@patchflow/testing';
import { PermanentError } from '@patchflow/workflow-runtime';
import { CreateSuccessor, SUCCESSOR_ACTOR } from './create-successor.js';
import type { SuccessorCreator, SuccessorRequest } from './patch-status-client.js';

/**
 * A SuccessorCreator that keeps one successor per predecessor, as patch-status does: the first
 * request creates it, any later one is answered with it (`replayed`).
 */
function fakePatchStatus() {
  const requests: SuccessorRequest[] = [];
  const created = new Map<string, PatchView>();
  const port: SuccessorCreator = {
    async createSuccessor(req): Promise<CreatePatchResult> {
      requests.push(req);
      const existing = created.get(req.predecessorId);
      if (existing) return { patch: existing, replayed: true };
      const now = new Date().toISOString();
      const patch: PatchView = {
        ...buildWorkItem('markActive').patch,
        id: `succ-${created.size + 1}`,
        name: req.name,
        product: req.product,
        status: 'draft',
        version: 1,
        predecessorId: req.predecessorId,
        createdAt: now,
        updatedAt: now,
      };
      created.set(req.predecessorId, patch);
      return { patch, replayed: false };
    },
  };
  return { port, requests };
}

describe('CreateSuccessor', () => {
  it('asks for the next name in the same product, keyed by the work id, and returns the successor with its success', async () => {
    const patchStatus = fakePatchStatus();
    const work = buildWorkItem('startDeployment', { name: '2026.48.1', product: 'payments' });
    const run = fakeWorkflowInput(work);
    expect(await new CreateSuccessor(patchStatus.port).execute(run.input)).toEqual({
      status: 'succeeded',
      externalRef: { successorId: 'succ-1', successorName: '2026.48.2' },
    });
    expect(patchStatus.requests).toEqual([
      {
        name: '2026.48.2',
        product: 'payments',
        predecessorId: work.patch.id,
        idempotencyKey: work.workId,
        actor: SUCCESSOR_ACTOR,
      },
    ]);
    // No write of its own: the ids are stored with the success (the create is idempotent by itself).
    expect(run.recorded).toEqual({});
    expect(run.steps).toEqual([
      {
        subactionType: 'patch.workflow.startDeployment.createSuccessor',
        message: 'created successor payments 2026.48.2',
        metadata: { successorId: 'succ-1', successorName: '2026.48.2', replayed: false },
      },
    ]);
  });

  it('a rerun (lost record, redelivery, second deployment) gets the same successor and says so', async () => {
    const patchStatus = fakePatchStatus();
    const create = new CreateSuccessor(patchStatus.port);
    const work = buildWorkItem('startDeployment', { name: 'rc-09' });
    await create.execute(fakeWorkflowInput(work).input);
    const again = fakeWorkflowInput(buildWorkItem('startDeployment', work.patch));
    expect(await create.execute(again.input)).toMatchObject({ externalRef: { successorId: 'succ-1', successorName: 'rc-10' } });
    expect(again.steps.map((s) => [s.message, s.metadata.replayed])).toEqual([
      [`successor payments rc-10 already existed`, true],
    ]);
  });

  it("patch-status's refusal is the execution's failure, with nothing recorded", async () => {
    const failure = new PermanentError('patch-status create: validation_failed: name too long');
    const run = fakeWorkflowInput(buildWorkItem('startDeployment'));
    await expect(new CreateSuccessor({ createSuccessor: () => Promise.reject(failure) }).execute(run.input)).rejects.toBe(
      failure,
    );
    expect(run.recorded).toEqual({});
    expect(run.steps).toEqual([]);
  });
});
