import { describe, expect, it } from 'vitest';
import { Topology } from './topology.js';
import {
  AttentionRequest,
  DiscardDeadLetterRequest,
  patchStatusOpsEndpoints,
  ReplayRequest,
  RetryExecutionRequest,
  workflowOpsEndpoints,
} from './workflow-ops.js';

const workId = '6f1c2d3e-4b5a-4c6d-8e7f-901234567890';

describe('workflow ops requests', () => {
  it('a replay names work (1–100 items, optional stream sequence); force needs a reason and an actor', () => {
    expect(ReplayRequest.parse({ items: [{ workId }] })).toEqual({ items: [{ workId }], force: false });
    expect(ReplayRequest.safeParse({ items: [] }).success).toBe(false);
    expect(ReplayRequest.safeParse({ items: [{ workId, streamSeq: 0 }] }).success).toBe(false);
    const unforced = ReplayRequest.safeParse({ items: [{ workId }], force: true, actor: 'ops' });
    expect(unforced.success).toBe(false);
    expect(unforced.error?.issues[0]).toMatchObject({ path: ['reason'], message: 'force needs a reason and an actor' });
    expect(ReplayRequest.safeParse({ items: [{ workId }], force: true, reason: 'why' }).success).toBe(false);
    expect(ReplayRequest.parse({ items: [{ workId }], force: true, actor: ' ops ', reason: ' config fixed ' })).toMatchObject({
      actor: 'ops',
      reason: 'config fixed',
    });
  });

  it('a discard needs a non-blank reason and actor; a retry may carry them', () => {
    expect(DiscardDeadLetterRequest.safeParse({ workId, actor: 'ops' }).success).toBe(false);
    expect(DiscardDeadLetterRequest.safeParse({ workId, actor: 'ops', reason: '   ' }).success).toBe(false);
    expect(DiscardDeadLetterRequest.safeParse({ workId, actor: 'ops', reason: 'a\u0000b' }).success).toBe(false);
    expect(DiscardDeadLetterRequest.parse({ workId, actor: 'ops', reason: 'obsolete' })).toEqual({
      workId,
      actor: 'ops',
      reason: 'obsolete',
    });
    expect(RetryExecutionRequest.parse({ workId })).toEqual({ workId });
  });

  it('attention defaults to 10 minutes for "stuck" and bounds it', () => {
    expect(AttentionRequest.parse({})).toEqual({ stuckAfterMs: 600_000, limit: 200 });
    expect(AttentionRequest.safeParse({ stuckAfterMs: 10 }).success).toBe(false);
  });

  it('subjects: one per workflow and operation, patch-status’s outbox under patch.ops.v1, namespaced', () => {
    const t = new Topology('ns1');
    const ops = workflowOpsEndpoints('jira');
    expect([ops.replay, ops.retryExecution, ops.discardDeadLetter, ops.attention].map((e) => e.subject(t))).toEqual([
      'ns1.workflow.v1.ops.jira.replay',
      'ns1.workflow.v1.ops.jira.execution.retry',
      'ns1.workflow.v1.ops.jira.deadletters.discard',
      'ns1.workflow.v1.ops.jira.attention',
    ]);
    expect(patchStatusOpsEndpoints.publishOutbox.subject(new Topology())).toBe('patch.ops.v1.outbox.publish');
  });
});
