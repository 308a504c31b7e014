import type { PatchView, TransitionView } from '@patchflow/contracts';
import type { Patch } from './entities/patch.js';
import type { PatchTransition } from './entities/patch-transition.js';

/** The contract view of a patch row (entity or raw SQL row mapped to entity names). */
export function toPatchView(p: Pick<Patch, keyof PatchView>): PatchView {
  return {
    id: p.id,
    name: p.name,
    product: p.product,
    status: p.status,
    version: p.version,
    jiraKey: p.jiraKey,
    gitRef: p.gitRef,
    predecessorId: p.predecessorId,
    createdBy: p.createdBy,
    createdAt: new Date(p.createdAt).toISOString(),
    updatedAt: new Date(p.updatedAt).toISOString(),
  };
}

export function toTransitionView(t: PatchTransition, workId: string): TransitionView {
  return {
    id: t.id,
    patchId: t.patchId,
    action: t.action,
    fromStatus: t.fromStatus,
    toStatus: t.toStatus,
    actor: t.actor,
    reason: t.reason,
    patchVersion: t.patchVersion,
    workId,
    createdAt: new Date(t.createdAt).toISOString(),
  };
}
