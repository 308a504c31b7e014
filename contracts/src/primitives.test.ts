import { describe, expect, it } from 'vitest';
import { CreatePatchRequest, TransitionRequest } from './patch-messages.js';
import { StepEvent } from './workflow-events.js';
import { PG_INT_MAX } from './primitives.js';

const actor = { name: 'alice', role: 'admin' as const };
const patchId = '8f1c2a4e-4f7a-4d7e-9c1e-2b1f0c9d3e4a';

describe('message primitives refuse what Postgres would refuse', () => {
  it('a NUL byte in a name, reason or actor is a validation failure naming the field', () => {
    const create = CreatePatchRequest.safeParse({ name: 'a\u0000b', product: 'payments', actor: 'alice' });
    expect(create.success).toBe(false);
    expect(create.error?.issues[0]?.path).toEqual(['name']);
    expect(create.error?.issues[0]?.message).toMatch(/NUL/);
    const transition = TransitionRequest.safeParse({ patchId, action: 'cancel', actor, reason: 'x\u0000' });
    expect(transition.error?.issues[0]?.path).toEqual(['reason']);
    expect(TransitionRequest.safeParse({ patchId, action: 'cancel', actor: { name: 'a\u0000', role: 'admin' } }).success).toBe(
      false,
    );
  });

  it('integers outside the int4 range are refused; the bound itself is accepted', () => {
    const base = { patchId, action: 'markActive', actor };
    expect(TransitionRequest.safeParse({ ...base, expectedVersion: 2 ** 40 }).success).toBe(false);
    expect(TransitionRequest.safeParse({ ...base, expectedVersion: PG_INT_MAX + 1 }).success).toBe(false);
    expect(TransitionRequest.safeParse({ ...base, expectedVersion: PG_INT_MAX }).success).toBe(true);
  });

  it('a NUL byte anywhere inside step metadata is refused, a clean object passes', () => {
    const step = {
      kind: 'step',
      eventId: patchId,
      workId: patchId,
      patchId,
      action: 'markActive',
      workflow: 'slack',
      attempt: 1,
      at: '2026-11-26T10:00:00.000Z',
      subactionType: 'patch.workflow.markActive.notify',
      message: 'ok',
    };
    expect(StepEvent.safeParse({ ...step, metadata: { deep: [{ s: 'fine' }] } }).success).toBe(true);
    expect(StepEvent.safeParse({ ...step, metadata: { deep: [{ s: 'bad\u0000' }] } }).success).toBe(false);
    expect(StepEvent.safeParse({ ...step, metadata: { ['k\u0000']: 1 } }).success).toBe(false);
  });
});
