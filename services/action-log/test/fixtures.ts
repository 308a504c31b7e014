import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import {
  workflowsFor,
  type ActionLogUpdated,
  type ActionName,
  type ExecutionEvent,
  type PatchStatus,
  type StepEvent,
  type WorkflowEvent,
  type WorkflowName,
  type WorkItem,
} from '@patchflow/contracts';
import type { PublishResult } from '@patchflow/bus';
import { fileScope, testLogLevel, testNatsUrl, type FileScope } from '@patchflow/testing';
import { startActionLog, type ActionLogOptions, type RunningActionLog } from '../src/index.js';

/** The action-log of one test file, in the file's own database and bus namespace (`fileScope`). */
export interface ActionLogUnderTest extends FileScope {
  /** Started before the file's first test, stopped after its last. */
  readonly service: RunningActionLog;
  /** Every ActionLogUpdated ping seen in the namespace since the service started. */
  readonly pings: ActionLogUpdated[];
  /** Publishes a work item on its action's subject, as patch-status's outbox does (msg-id = work id). */
  publishWork(work: WorkItem): Promise<PublishResult>;
  /** Publishes a step or execution event on its workflow's subject, as the workflows do. */
  publishEvent(event: WorkflowEvent): Promise<PublishResult>;
}

/**
 * Starts the action-log for this file (call before the file's own hooks): in the file's database
 * unless `databaseUrl` says where (read when the service starts), at the tests' log level unless
 * `logger` is given.
 */
export function actionLogUnderTest(
  labels: { namespace: string; database?: string },
  options: Partial<Omit<ActionLogOptions, 'databaseUrl' | 'natsUrl' | 'namespace'>> & { databaseUrl?: () => string } = {},
): ActionLogUnderTest {
  const scope = fileScope(labels);
  const { databaseUrl = () => scope.db.url, ...rest } = options;
  const pings: ActionLogUpdated[] = [];
  let service: RunningActionLog | undefined;
  beforeAll(async () => {
    const at = { databaseUrl: databaseUrl(), natsUrl: testNatsUrl(), namespace: scope.namespace };
    service = await startActionLog({ ...at, logLevel: testLogLevel, ...rest });
    scope.bus.listen(scope.bus.topology.allActionLogUpdates, (value) => {
      pings.push(value as ActionLogUpdated);
    });
  });
  afterAll(async () => {
    await service?.stop();
  });
  return {
    namespace: scope.namespace,
    get bus() {
      return scope.bus;
    },
    get db() {
      return scope.db;
    },
    get service() {
      if (!service) throw new Error('actionLogUnderTest: the service starts in beforeAll, not yet');
      return service;
    },
    pings,
    publishWork: (w) => scope.bus.publish(scope.bus.topology.work(w.transition.action), w, { msgId: w.workId }),
    publishEvent: (e) =>
      scope.bus.publish(e.kind === 'step' ? scope.bus.topology.step(e.workflow) : scope.bus.topology.execution(e.workflow), e),
  };
}

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
