import { describe, expect, it } from 'vitest';
import { WorkTrace } from './patch-messages.js';
import { TraceId, Traceparent } from './primitives.js';
import { StepEvent } from './workflow-events.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

describe('trace fields of the messages', () => {
  it('TraceId and Traceparent take the W3C forms and refuse the rest', () => {
    expect(TraceId.safeParse(TRACE).success).toBe(true);
    expect(Traceparent.safeParse(`00-${TRACE}-${SPAN}-01`).success).toBe(true);
    for (const bad of ['0'.repeat(32), TRACE.toUpperCase(), TRACE.slice(1), `${TRACE}0`]) {
      expect(TraceId.safeParse(bad).success, bad).toBe(false);
    }
    for (const bad of [
      `01-${TRACE}-${SPAN}-01`,
      `00-${'0'.repeat(32)}-${SPAN}-01`,
      `00-${TRACE}-${'0'.repeat(16)}-01`,
      `00-${TRACE}-${SPAN}`,
    ]) {
      const r = Traceparent.safeParse(bad);
      expect(r.success, bad).toBe(false);
      expect(r.error?.issues[0]?.message).toMatch(/W3C traceparent/);
    }
  });

  it('a work trace needs a correlation id of at most 128 characters', () => {
    expect(WorkTrace.safeParse({ traceparent: `00-${TRACE}-${SPAN}-01`, correlationId: 'c-1' }).success).toBe(true);
    expect(WorkTrace.safeParse({ traceparent: `00-${TRACE}-${SPAN}-01`, correlationId: '' }).success).toBe(false);
    expect(WorkTrace.safeParse({ traceparent: `00-${TRACE}-${SPAN}-01`, correlationId: 'x'.repeat(129) }).success).toBe(false);
  });

  it('events without a trace id (published before tracing) still parse; a malformed one is refused', () => {
    const step = {
      kind: 'step',
      eventId: '0b6f1c3e-5d4a-4f7e-9c2b-1a3d5e7f9b0c',
      workId: '1c7a2d4f-6e5b-4a8c-9d3e-2b4c6d8e0f1a',
      patchId: '2d8b3e5a-7f6c-4b9d-8e4f-3c5d7e9f1a2b',
      action: 'markActive',
      workflow: 'slack',
      attempt: 1,
      at: '2026-11-26T13:00:00.000Z',
      subactionType: 'patch.workflow.markActive.notify',
      message: 'posted',
    };
    expect(StepEvent.safeParse(step).success).toBe(true);
    expect(StepEvent.safeParse({ ...step, traceId: TRACE }).data?.traceId).toBe(TRACE);
    expect(StepEvent.safeParse({ ...step, traceId: 'nope' }).error?.issues[0]?.path).toEqual(['traceId']);
  });
});
