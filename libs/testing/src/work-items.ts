import { randomUUID } from 'node:crypto';
import { lifecycleDefinition, routing, WorkItem, type ActionName, type PatchView } from '@patchflow/contracts';

/**
 * A valid WorkItem as patch-status's outbox would publish it, for tests that feed the work
 * stream directly. The patch is shown in the action's target status.
 */
export function buildWorkItem(action: ActionName, patch: Partial<PatchView> = {}, actor = 'alice'): WorkItem {
  const def = lifecycleDefinition.actions.find((a) => a.name === action)!;
  const now = new Date().toISOString();
  const workId = randomUUID();
  const p: PatchView = {
    id: randomUUID(),
    name: '2026.48.1',
    product: 'payments',
    status: def.to,
    version: 2,
    jiraKey: null,
    gitRef: null,
    predecessorId: null,
    createdBy: actor,
    createdAt: now,
    updatedAt: now,
    ...patch,
  };
  return WorkItem.parse({
    workId,
    transition: {
      id: randomUUID(),
      patchId: p.id,
      action,
      fromStatus: def.from[0],
      toStatus: def.to,
      actor,
      reason: def.requiredFields.length > 0 ? 'because' : null,
      patchVersion: p.version,
      workId,
      createdAt: now,
    },
    patch: p,
    workflows: [...routing[action]],
  });
}
