import { randomUUID } from 'node:crypto';
import {
  workflowsFor,
  type ActionName,
  type ExecutionEvent,
  type PatchStatus,
  type StepEvent,
  type WorkflowName,
  type WorkItem,
} from '@patchflow/contracts';

let clock = Date.parse('2026-11-25T10:00:00.000Z');
/** Strictly increasing event times, so expectations never depend on the wall clock. */
export function nextTime(): string {
  clock += 7;
  return new Date(clock).toISOString();
}

export function workItem(patchId: string, action: ActionName, from: PatchStatus, to: PatchStatus, version: number): WorkItem {
  const workId = randomUUID();
  const at = nextTime();
  return {
    workId,
    transition: {
      id: randomUUID(),
      patchId,
      action,
      fromStatus: from,
      toStatus: to,
      actor: 'alice',
      reason: null,
      patchVersion: version,
      workId,
      createdAt: at,
    },
    patch: {
      id: patchId,
      name: 'payments 2026.48.1',
      product: 'payments',
      status: to,
      version,
      jiraKey: 'PAY-1',
      gitRef: null,
      predecessorId: null,
      createdBy: 'alice',
      createdAt: at,
      updatedAt: at,
    },
    workflows: [...workflowsFor(action)],
  };
}

export function step(
  work: WorkItem,
  workflow: WorkflowName,
  subaction: string,
  attempt = 1,
  metadata: Record<string, unknown> = { attempt },
): StepEvent {
  return {
    kind: 'step',
    eventId: randomUUID(),
    workId: work.workId,
    patchId: work.patch.id,
    action: work.transition.action,
    workflow,
    attempt,
    at: nextTime(),
    subactionType: `patch.workflow.${work.transition.action}.${subaction}`,
    message: `${workflow} did ${subaction}`,
    metadata,
  };
}

export function execution(
  work: WorkItem,
  workflow: WorkflowName,
  status: ExecutionEvent['status'],
  attempt = 1,
  extra: Partial<ExecutionEvent> = {},
): ExecutionEvent {
  return {
    kind: 'execution',
    eventId: randomUUID(),
    workId: work.workId,
    patchId: work.patch.id,
    action: work.transition.action,
    workflow,
    attempt,
    at: nextTime(),
    status,
    willRetry: false,
    deadLettered: false,
    ...extra,
  };
}
