/**
 * A workflow reports `running` only for an execution still going after its running-event delay
 * (libs/workflow-runtime/src/workflow-runtime.ts); its outcome carries `startedAt`, from which the
 * action-log keeps start times, durations and attempt lists (services/action-log/src/projection.ts,
 * history-queries.ts). A workflow service and the action-log in this process, on real NATS and
 * Postgres, each in its own database, in one bus namespace.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bus } from '@patchflow/bus';
import { actionLogEndpoints, ExecutionEvent, type ExecutionView, type WorkItem } from '@patchflow/contracts';
import { startActionLog, type RunningActionLog } from '@patchflow/action-log';
import { routedHandlers, startWorkflowService, TransientError, type RunningWorkflowService } from '@patchflow/workflow-runtime';
import {
  buildWorkItem,
  connectTestBus,
  createTestDatabase,
  deleteNamespaceStreams,
  readStream,
  testLogLevel,
  testNatsUrl,
  uniqueNamespace,
  waitFor,
  type TestDatabase,
} from '@patchflow/testing';

type Behaviour = 'fast' | 'slow' | 'fail-once';

const behaviour = new Map<string, Behaviour>();
const failedOnce = new Set<string>();
let releaseSlow: () => void = () => undefined;
const slow = new Promise<void>((resolve) => (releaseSlow = resolve));

let workflowDb: TestDatabase;
let actionLogDb: TestDatabase;
let bus: Bus;
let actionLog: RunningActionLog;
let workflow: RunningWorkflowService;

beforeAll(async () => {
  [workflowDb, actionLogDb] = await Promise.all([
    createTestDatabase('wf_running_delay'),
    createTestDatabase('alog_running_delay'),
  ]);
  const namespace = uniqueNamespace('wfrun');
  bus = await connectTestBus(namespace);
  actionLog = await startActionLog({ databaseUrl: actionLogDb.url, natsUrl: testNatsUrl(), namespace, logLevel: testLogLevel });
  workflow = await startWorkflowService(
    {
      workflow: 'slack',
      natsUrl: testNatsUrl(),
      namespace,
      databaseUrl: workflowDb.url,
      logLevel: testLogLevel,
      retry: { baseDelayMs: 100, maxDelayMs: 100, maxAttempts: 5 },
      // Far above what a handler that returns at once takes, even on a busy machine; the slow
      // handler waits for the test, not for a clock.
      runningEventDelayMs: 2000,
    },
    () =>
      routedHandlers('slack', {
        async execute({ work, logger }) {
          const b = behaviour.get(work.workId) ?? 'fast';
          if (b === 'slow') await slow;
          if (b === 'fail-once' && !failedOnce.has(work.workId)) {
            failedOnce.add(work.workId);
            throw new TransientError('Slack answered 503');
          }
          await logger.step('notify', 'posted');
        },
      }),
  );
});

afterAll(async () => {
  releaseSlow();
  await workflow?.stop();
  await actionLog?.stop();
  if (bus) {
    await deleteNamespaceStreams(bus);
    await bus.drain();
  }
  await Promise.all([workflowDb?.drop(), actionLogDb?.drop()]);
});

async function publish(b: Behaviour): Promise<WorkItem> {
  const work = buildWorkItem('markActive');
  behaviour.set(work.workId, b);
  await bus.publish(bus.topology.work(work.transition.action), work, { msgId: work.workId });
  return work;
}

/** The execution events slack published for `workId`, in stream order. */
async function executionEvents(workId: string): Promise<ExecutionEvent[]> {
  const stored = await readStream(bus, 'workflowEvents', bus.topology.execution('slack'));
  return stored.map((m) => ExecutionEvent.parse(m.value)).filter((e) => e.workId === workId);
}

async function slackExecution(workId: string): Promise<ExecutionView> {
  const { work } = await bus.call(actionLogEndpoints.work, { workId });
  const execution = work.executions.find((e) => e.workflow === 'slack');
  if (!execution) throw new Error(`no slack execution of ${workId} yet`);
  return execution;
}

const until = (workId: string, what: string, check: (e: ExecutionView) => boolean) =>
  waitFor(
    async () => {
      const e = await slackExecution(workId).catch(() => undefined);
      return e && check(e) ? e : undefined;
    },
    { what: `${what} (work ${workId})`, timeoutMs: 30_000 },
  );

describe('running event only for executions that take a while', () => {
  it('a quick execution publishes just its outcome, and its history has the exact start, duration and one attempt', async () => {
    const work = await publish('fast');
    const done = await until(work.workId, 'a succeeded execution', (e) => e.status === 'succeeded');
    const events = await executionEvents(work.workId);
    expect(events.map((e) => e.status)).toEqual(['succeeded']);
    const outcome = events[0]!;
    expect(outcome.startedAt).toBeDefined();
    expect(Date.parse(outcome.startedAt!)).toBeLessThanOrEqual(Date.parse(outcome.at));
    expect(done.startedAt).toBe(outcome.startedAt);
    expect(done.finishedAt).toBe(outcome.at);
    expect(done.durationMs).toBe(Date.parse(outcome.at) - Date.parse(outcome.startedAt!));
    expect(done.attempts).toBe(1);
    expect(done.attemptList).toEqual([
      { attempt: 1, startedAt: outcome.startedAt, finishedAt: outcome.at, outcome: 'succeeded', error: null },
    ]);
  });

  it('a slow execution shows `running` live once the delay is over, then its outcome', async () => {
    const work = await publish('slow');
    const running = await waitFor(async () => (await executionEvents(work.workId)).find((e) => e.status === 'running'), {
      what: 'the running event',
      timeoutMs: 30_000,
    });
    // The handler has logged no step yet: the history shows it running from the event alone.
    const live = await until(work.workId, 'a running execution', (e) => e.status === 'running');
    expect(live.steps).toEqual([]);
    expect(live.startedAt).toBe(running.startedAt);
    expect(live.attemptList).toEqual([
      { attempt: 1, startedAt: running.startedAt, finishedAt: null, outcome: 'running', error: null },
    ]);
    releaseSlow();
    const done = await until(work.workId, 'a succeeded execution', (e) => e.status === 'succeeded');
    const events = await executionEvents(work.workId);
    expect(events.map((e) => e.status)).toEqual(['running', 'succeeded']);
    expect(events[1]!.startedAt).toBe(running.startedAt);
    expect(done.startedAt).toBe(running.startedAt);
    expect(done.durationMs).toBe(Date.parse(events[1]!.at) - Date.parse(running.startedAt!));
  });

  it('a retried execution lists both attempts with their own start and outcome, without running events', async () => {
    const work = await publish('fail-once');
    const done = await until(work.workId, 'a succeeded execution', (e) => e.status === 'succeeded');
    const events = await executionEvents(work.workId);
    expect(events.map((e) => [e.attempt, e.status])).toEqual([
      [1, 'failed'],
      [2, 'succeeded'],
    ]);
    const [failed, succeeded] = events as [ExecutionEvent, ExecutionEvent];
    expect(Date.parse(succeeded.startedAt!)).toBeGreaterThanOrEqual(Date.parse(failed.at));
    expect(failed.error).toMatch(/Slack answered 503/);
    expect(done).toMatchObject({ attempts: 2, lastError: failed.error, startedAt: failed.startedAt });
    expect(done.attemptList).toEqual([
      { attempt: 1, startedAt: failed.startedAt, finishedAt: failed.at, outcome: 'failed', error: failed.error },
      { attempt: 2, startedAt: succeeded.startedAt, finishedAt: succeeded.at, outcome: 'succeeded', error: null },
    ]);
  });
});
