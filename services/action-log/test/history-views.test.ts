import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { actionLogEndpoints, type ActionLogUpdated, type WorkItem } from '@patchflow/contracts';
import { waitFor } from '@patchflow/testing';
import { actionLogUnderTest, execution, step, workItem } from './fixtures.js';

// The derived views of issue 11: attempts, durations and links per execution, the patch-wide
// open executions, failure counts for the list, and the settlement carried by the live pings.

const actionLog = actionLogUnderTest({ database: 'action_log_views', namespace: 'alogv' });
const { pings, publishWork, publishEvent } = actionLog;

const pingFor = (workId: string, settled: boolean, effects: ActionLogUpdated['effects']) =>
  waitFor(() => pings.some((p) => p.workId === workId && p.settled === settled && p.effects === effects), {
    what: `a ping for ${workId} with settled=${settled}, effects=${effects}`,
  });

const pipelineLink = { label: 'pipeline #101', url: 'https://gitlab.example.com/pay/-/pipelines/101' };

describe('history views', () => {
  const patchId = randomUUID();
  const otherPatchId = randomUUID();
  let markActive: WorkItem;

  it('lists every attempt with its outcome and error, the duration, and the http(s) links the steps logged', async () => {
    markActive = workItem(patchId, 'markActive', 'draft', 'active', 2);
    await publishWork(markActive);
    const firstRun = execution(markActive, 'gitlab', 'running', 1);
    await publishEvent(firstRun);
    await publishEvent(step(markActive, 'gitlab', 'triggerPipeline', 1));
    const firstFail = execution(markActive, 'gitlab', 'failed', 1, { error: 'GitLab answered 503', willRetry: true });
    await publishEvent(firstFail);
    await pingFor(markActive.workId, false, 'running');
    const secondRun = execution(markActive, 'gitlab', 'running', 2);
    await publishEvent(secondRun);
    await publishEvent(step(markActive, 'gitlab', 'triggerPipeline', 2, { link: pipelineLink, pipelineId: 101 }));
    // Not links: a script URL, a relative path, a label missing; the same URL twice is one link.
    await publishEvent(step(markActive, 'gitlab', 'note', 2, { link: { label: 'x', url: 'javascript:alert(1)' } }));
    await publishEvent(step(markActive, 'gitlab', 'note', 2, { link: { label: 'y', url: '/relative' } }));
    await publishEvent(step(markActive, 'gitlab', 'note', 2, { link: { url: 'https://gitlab.example.com/a' } }));
    await publishEvent(step(markActive, 'gitlab', 'note', 2, { link: pipelineLink }));
    const done = execution(markActive, 'gitlab', 'succeeded', 2);
    await publishEvent(done);
    await publishEvent(execution(markActive, 'slack', 'skipped'));
    await publishEvent(execution(markActive, 'jira', 'running'));
    await pingFor(markActive.workId, false, 'running');
    await publishEvent(
      execution(markActive, 'jira', 'failed', 1, { error: 'Jira answered 400', willRetry: false, deadLettered: true }),
    );
    await pingFor(markActive.workId, true, 'failed');

    const { work } = await actionLog.bus.call(actionLogEndpoints.work, { workId: markActive.workId });
    const gitlab = work.executions.find((e) => e.workflow === 'gitlab');
    expect(gitlab?.attemptList).toEqual([
      { attempt: 1, startedAt: firstRun.at, finishedAt: firstFail.at, outcome: 'failed', error: 'GitLab answered 503' },
      { attempt: 2, startedAt: secondRun.at, finishedAt: done.at, outcome: 'succeeded', error: null },
    ]);
    expect(gitlab?.durationMs).toBe(Date.parse(done.at) - Date.parse(firstRun.at));
    expect(gitlab?.links).toEqual([pipelineLink]);
    const jira = work.executions.find((e) => e.workflow === 'jira');
    expect(jira?.attemptList).toMatchObject([{ attempt: 1, outcome: 'failed', error: 'Jira answered 400' }]);
    expect(jira?.links).toEqual([]);
    expect(work.executions.find((e) => e.workflow === 'slack')?.attemptList).toMatchObject([{ outcome: 'skipped' }]);
  });

  it('shows a running attempt without a finish and without a duration', async () => {
    const item = workItem(otherPatchId, 'completeDeployment', 'in_deployment', 'deployed', 4);
    await publishWork(item);
    const run = execution(item, 'jira', 'running');
    await publishEvent(run);
    await waitFor(
      async () =>
        (await actionLog.bus.call(actionLogEndpoints.work, { workId: item.workId })).work.executions.find(
          (e) => e.workflow === 'jira',
        )?.status === 'running',
      { what: 'the jira execution to run' },
    );
    const { work } = await actionLog.bus.call(actionLogEndpoints.work, { workId: item.workId });
    const jira = work.executions.find((e) => e.workflow === 'jira');
    expect(jira?.attemptList).toEqual([{ attempt: 1, startedAt: run.at, finishedAt: null, outcome: 'running', error: null }]);
    expect(jira?.durationMs).toBeNull();
    // Both of its workflows succeed: the ping says settled.
    await publishEvent(execution(item, 'jira', 'succeeded'));
    await publishEvent(execution(item, 'slack', 'succeeded'));
    await pingFor(item.workId, true, 'settled');
  });

  it('names the whole patch its known work items, what still runs and what failed', async () => {
    const startDeployment = workItem(patchId, 'startDeployment', 'active', 'in_deployment', 3);
    await publishWork(startDeployment);
    await pingFor(startDeployment.workId, false, 'running');
    const history = await actionLog.bus.call(actionLogEndpoints.history, { patchId, limit: 1 });
    expect(history.entries.map((e) => e.workId)).toEqual([markActive.workId]);
    expect(new Set(history.knownWorkIds)).toEqual(new Set([markActive.workId, startDeployment.workId]));
    expect(history.open.failed).toEqual([{ workId: markActive.workId, action: 'markActive', workflow: 'jira' }]);
    expect(history.open.running.map((r) => r.workflow).sort()).toEqual(['gitlab', 'jira', 'slack', 'successor']);
    expect(history.open.running.every((r) => r.workId === startDeployment.workId)).toBe(true);
  });

  it('counts open failures per patch and lists the failing patches; a retried failure is no longer open', async () => {
    const counts = await actionLog.bus.call(actionLogEndpoints.failureCounts, {
      patchIds: [patchId, otherPatchId, randomUUID()],
    });
    expect(counts.counts).toEqual({ [patchId]: 1 });
    expect(await actionLog.bus.call(actionLogEndpoints.failingPatches, {})).toEqual({ patchIds: [patchId], truncated: false });
    expect(await actionLog.bus.call(actionLogEndpoints.failureCounts, { patchIds: [] })).toEqual({ counts: {} });

    // An operator retry: attempt 2 of the dead-lettered Jira move succeeds.
    await publishEvent(execution(markActive, 'jira', 'running', 2));
    await publishEvent(execution(markActive, 'jira', 'succeeded', 2));
    await pingFor(markActive.workId, true, 'settled');
    expect((await actionLog.bus.call(actionLogEndpoints.failureCounts, { patchIds: [patchId] })).counts).toEqual({});
    expect(await actionLog.bus.call(actionLogEndpoints.failingPatches, { limit: 5 })).toEqual({ patchIds: [], truncated: false });
  });

  it('refuses bad failure requests, naming the field', async () => {
    const tooMany = await actionLog.bus.request(actionLogEndpoints.failureCounts, {
      patchIds: Array.from({ length: 201 }, () => randomUUID()),
    });
    expect(tooMany).toMatchObject({
      ok: false,
      error: { code: 'validation_failed', details: { fields: [{ path: 'patchIds' }] } },
    });
    const notUuid = await actionLog.bus.request(actionLogEndpoints.failureCounts, { patchIds: ['x'] });
    expect(notUuid).toMatchObject({
      ok: false,
      error: { code: 'validation_failed', details: { fields: [{ path: 'patchIds.0' }] } },
    });
    const zero = await actionLog.bus.request(actionLogEndpoints.failingPatches, { limit: 0 });
    expect(zero).toMatchObject({ ok: false, error: { code: 'validation_failed', details: { fields: [{ path: 'limit' }] } } });
  });
});
