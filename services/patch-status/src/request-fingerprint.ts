import { createHash } from 'node:crypto';
import type { CreatePatchRequest, TransitionRequest } from '@patchflow/contracts';

/**
 * What an idempotency key is bound to: the sha256 of the request's fields (all but the key),
 * in a fixed order, absent fields as null — so a retry of the same request matches and any other
 * request with the same key does not. The caller is part of it; the role is not (it is who the
 * caller is, not what they asked).
 *
 * Computed only for requests that carry a key: the common keyless request pays nothing.
 */
export function createFingerprint(req: CreatePatchRequest): string {
  return digest(['create', req.actor, req.name, req.product, req.jiraKey ?? null, req.gitRef ?? null, req.predecessorId ?? null]);
}

export function transitionFingerprint(req: TransitionRequest): string {
  return digest(['transition', req.actor.name, req.patchId, req.action, req.expectedVersion ?? null, req.reason ?? null]);
}

function digest(fields: (string | number | null)[]): string {
  return createHash('sha256').update(JSON.stringify(fields)).digest('hex');
}
