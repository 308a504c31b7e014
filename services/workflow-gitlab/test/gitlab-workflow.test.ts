import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect } from 'vitest';
import { DeadLetter, workflowOpsEndpoints } from '@patchflow/contracts';
import { buildWorkItem, FakeGitlab, readStream, repoRoot, testNatsUrl, waitFor, workflowTest } from '@patchflow/testing';
import { ExecutionStore } from '@patchflow/workflow-runtime';
import { startGitlabWorkflow } from '../src/index.js';

const ops = workflowOpsEndpoints('gitlab');

/** The operator CLI (patchctl dlq) as an operator runs it. */
async function opsCli(namespace: string, ...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['tools/patchctl/bin/patchctl.mjs', 'dlq', ...args, '--namespace', namespace, '--nats-url', testNatsUrl(), '--json'],
    { cwd: repoRoot },
  );
  return stdout;
}

const it = workflowTest({
  workflow: 'gitlab',
  label: 'gitlab',
  remote: () => FakeGitlab.start({ refs: ['main'] }),
  start: ({ remote: gitlab, ...at }, { triggerToken = gitlab.triggerToken }: { triggerToken?: string }) =>
    startGitlabWorkflow({
      ...at,
      retry: { baseDelayMs: 50, maxDelayMs: 400, maxAttempts: 4 },
      gitlab: { url: gitlab.url, projectId: gitlab.projectId, triggerToken },
      defaultRef: 'main',
    }),
  openStore: (url) => ExecutionStore.open(url, 'gitlab', 2),
});

describe('workflow-gitlab', () => {
  const pipelinesFor = (gitlab: FakeGitlab, patchId: string) => gitlab.pipelines.filter((p) => p.variables.PATCH_ID === patchId);

  it('5xx twice then success → exactly one pipeline, with the patch variables, logged as a step', async ({
    remote: gitlab,
    store,
    workflow,
  }) => {
    gitlab.inject({ status: 502 }, { status: 500 });
    const work = buildWorkItem('startDeployment', { name: '2026.48.1' });
    await workflow.publish(work);
    await waitFor(workflow.reaches(work.workId, 'succeeded'), { what: 'pipeline triggered' });
    const [pipeline, ...more] = pipelinesFor(gitlab, work.patch.id);
    expect(more).toHaveLength(0);
    expect(pipeline?.ref).toBe('main');
    expect(pipeline?.variables).toEqual({
      PATCH_ID: work.patch.id,
      PATCH_NAME: '2026.48.1',
      PATCH_ACTION: 'startDeployment',
      PATCH_STATUS: 'in_deployment',
    });
    const row = await store.get(work.workId);
    expect(row).toMatchObject({ attempts: 3, externalRef: { pipelineId: pipeline!.id, webUrl: pipeline!.web_url } });
    const [step] = await workflow.stepEvents({ workId: work.workId });
    expect(step).toMatchObject({
      subactionType: 'patch.workflow.startDeployment.triggerPipeline',
      attempt: 3,
      metadata: { pipelineId: pipeline!.id, webUrl: pipeline!.web_url },
    });
    const mine = await workflow.executionEvents({ workId: work.workId });
    // `running` comes only from an attempt slower than WORKFLOW_RUNNING_EVENT_DELAY_MS (a busy machine).
    const outcomes = mine.filter((e) => e.status !== 'running');
    expect(outcomes.map((e) => `${e.status}${e.willRetry ? '+retry' : ''}`)).toEqual([
      'failed+retry',
      'failed+retry',
      'succeeded',
    ]);

    // Redelivery / replay of the same item: no second pipeline.
    await workflow.publish(work, { msgId: `${work.workId}:replay-1` });
    await workflow.publish(work, { msgId: `${work.workId}:replay-2` });
    await waitFor(
      async () => (await workflow.executionEvents({ workId: work.workId })).filter((e) => e.status === 'skipped').length === 2,
      {
        what: 'replays skipped',
      },
    );
    expect(pipelinesFor(gitlab, work.patch.id)).toHaveLength(1);
  });

  it('uses the patch gitRef; an action routed elsewhere is acked without an execution', async ({
    remote: gitlab,
    store,
    workflow,
  }) => {
    gitlab.addRef('release/2026.48');
    const work = buildWorkItem('markActive', { gitRef: 'release/2026.48' });
    const other = buildWorkItem('close');
    await workflow.publish(other);
    await workflow.publish(work);
    await waitFor(workflow.reaches(work.workId, 'succeeded'), { what: 'markActive pipeline' });
    expect(pipelinesFor(gitlab, work.patch.id)[0]?.ref).toBe('release/2026.48');
    expect(await store.get(other.workId)).toBeUndefined();
  });

  it('a permanent 4xx is dead-lettered with its reason; an operator retry after the fix succeeds', async ({
    remote: gitlab,
    bus,
    namespace,
    store,
    workflow,
  }) => {
    const work = buildWorkItem('startDeployment', { gitRef: 'release/2026.49' });
    await workflow.publish(work);
    await waitFor(workflow.reaches(work.workId, 'failed'), { what: 'dead-lettered' });
    const row = await store.get(work.workId);
    expect(row?.attempts).toBe(1);
    expect(row?.lastError).toMatch(/HTTP 400 .*Reference not found/);
    const dl = (await readStream(bus, 'deadLetters', bus.topology.deadLetter('gitlab'))).map((m) => DeadLetter.parse(m.value));
    expect(dl.find((d) => d.work.workId === work.workId)).toMatchObject({
      workflow: 'gitlab',
      attempts: 1,
      reason: row?.lastError,
    });
    const final = (await workflow.executionEvents({ workId: work.workId })).at(-1);
    expect(final).toMatchObject({ status: 'failed', deadLettered: true, willRetry: false });

    const listed = await bus.call(ops.listDeadLetters, {});
    expect(listed.items.find((i) => i.workId === work.workId)).toMatchObject({
      action: 'startDeployment',
      reason: expect.stringMatching(/Reference not found/),
      retriedAt: null,
    });
    // Still broken: the retry fails and the dead letter stays open.
    const again = await bus.call(ops.retryDeadLetters, { workId: work.workId }, { timeoutMs: 20_000 });
    expect(again.outcomes).toEqual([
      { workId: work.workId, status: 'failed', error: expect.stringMatching(/Reference not found/) },
    ]);

    const cliList = JSON.parse(await opsCli(namespace, 'list', '--workflow', 'gitlab')) as { items: { workId: string }[] };
    expect(cliList.items.map((i) => i.workId)).toContain(work.workId);

    gitlab.addRef('release/2026.49'); // the operator creates the branch
    const retried = JSON.parse(await opsCli(namespace, 'retry', '--workflow', 'gitlab', '--work-id', work.workId)) as unknown;
    expect(retried).toEqual([{ workflow: 'gitlab', workId: work.workId, status: 'succeeded', tries: 1 }]);
    expect(await store.get(work.workId)).toMatchObject({ status: 'succeeded', attempts: 3 });
    expect(pipelinesFor(gitlab, work.patch.id)).toHaveLength(1);
    expect((await bus.call(ops.listDeadLetters, {})).items.some((i) => i.workId === work.workId)).toBe(false);
    const all = await bus.call(ops.listDeadLetters, { includeRetried: true });
    expect(all.items.find((i) => i.workId === work.workId)).toMatchObject({ retries: 2, retriedAt: expect.any(String) });
  });

  it('transient failures past the attempt limit are dead-lettered instead of dropped', async ({
    remote: gitlab,
    bus,
    store,
    workflow,
  }) => {
    gitlab.inject({ status: 503, retryAfterSeconds: 0 }, { status: 500 }, { status: 500 }, { status: 500 });
    const work = buildWorkItem('markActive');
    await workflow.publish(work);
    await waitFor(workflow.reaches(work.workId, 'failed'), { what: 'gave up' });
    expect((await store.get(work.workId))?.lastError).toMatch(
      /^gave up after 4 attempts: TransientError: GitLab pipeline trigger: HTTP 500/,
    );
    expect(pipelinesFor(gitlab, work.patch.id)).toHaveLength(0);
    const retried = await bus.call(ops.retryDeadLetters, { all: true }, { timeoutMs: 20_000 });
    expect(retried.outcomes).toContainEqual({ workId: work.workId, status: 'succeeded' });
    expect(pipelinesFor(gitlab, work.patch.id)).toHaveLength(1);
  });

  it('a wrong trigger token (GitLab answers 404) is a permanent failure naming the likely cause', async ({ store, workflow }) => {
    const otherBus = await workflow.isolatedBus('gitlabtok');
    const s = await workflow.start({ namespace: otherBus.topology.namespace, triggerToken: 'wrong-token' });
    const work = buildWorkItem('markActive');
    await workflow.publish(work, { bus: otherBus });
    await waitFor(workflow.reaches(work.workId, 'failed'), { what: 'bad token dead-lettered' });
    const reason = (await store.get(work.workId))?.lastError ?? '';
    expect(reason).toMatch(/HTTP 404 .*wrong trigger token/);
    expect(reason).not.toContain('wrong-token');
    await s.stop();
  });
});
