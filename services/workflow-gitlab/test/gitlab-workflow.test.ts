import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeadLetter, ExecutionEvent, StepEvent, workflowOpsEndpoints } from '@patchflow/contracts';
import type { Bus } from '@patchflow/bus';
import {
  buildWorkItem,
  connectTestBus,
  createTestDatabase,
  deleteNamespaceStreams,
  FakeGitlab,
  readStream,
  repoRoot,
  testLogLevel,
  testNatsUrl,
  uniqueNamespace,
  waitFor,
  type TestDatabase,
} from '@patchflow/testing';
import { ExecutionStore, type RunningWorkflowService } from '@patchflow/workflow-runtime';
import { startGitlabWorkflow } from '../src/index.js';

const ops = workflowOpsEndpoints('gitlab');

/** The operator CLI (scripts/workflow-ops.ts) as an operator runs it. */
async function opsCli(namespace: string, ...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--conditions=development', '--import', 'tsx', 'scripts/workflow-ops.ts', ...args, '--namespace', namespace, '--nats-url', testNatsUrl(), '--json'],
    { cwd: repoRoot },
  );
  return stdout;
}

describe('workflow-gitlab', () => {
  let db: TestDatabase;
  let gitlab: FakeGitlab;
  let namespace: string;
  let bus: Bus;
  let store: ExecutionStore;
  const services: RunningWorkflowService[] = [];

  const start = async (ns: string, triggerToken = gitlab.triggerToken) => {
    const s = await startGitlabWorkflow({
      natsUrl: testNatsUrl(),
      namespace: ns,
      databaseUrl: db.url,
      logLevel: testLogLevel,
      retry: { baseDelayMs: 50, maxDelayMs: 400, maxAttempts: 4 },
      gitlab: { url: gitlab.url, projectId: gitlab.projectId, triggerToken },
      defaultRef: 'main',
    });
    services.push(s);
    return s;
  };
  const publish = (b: Bus, work: ReturnType<typeof buildWorkItem>, msgId = work.workId) =>
    b.publish(b.topology.work(work.transition.action), work, { msgId });
  const status = (workId: string, want: string) => async () => (await store.get(workId))?.status === want;
  const pipelinesFor = (patchId: string) => gitlab.pipelines.filter((p) => p.variables.PATCH_ID === patchId);
  const events = async () =>
    (await readStream(bus, 'workflowEvents', bus.topology.execution('gitlab'))).map((m) => ExecutionEvent.parse(m.value));

  beforeAll(async () => {
    db = await createTestDatabase('wf_gitlab');
    gitlab = await FakeGitlab.start({ refs: ['main'] });
    namespace = uniqueNamespace('gitlab');
    bus = await connectTestBus(namespace);
    await start(namespace);
    store = await ExecutionStore.open(db.url, 'gitlab', 2);
  });

  afterAll(async () => {
    for (const s of services.reverse()) await s.stop();
    await store?.close();
    await deleteNamespaceStreams(bus);
    await bus?.drain();
    await gitlab?.close();
    await db?.drop();
  });

  it('5xx twice then success → exactly one pipeline, with the patch variables, logged as a step', async () => {
    gitlab.inject({ status: 502 }, { status: 500 });
    const work = buildWorkItem('startDeployment', { name: '2026.48.1' });
    await publish(bus, work);
    await waitFor(status(work.workId, 'succeeded'), { what: 'pipeline triggered' });
    const [pipeline, ...more] = pipelinesFor(work.patch.id);
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
    const step = (await readStream(bus, 'workflowEvents', bus.topology.step('gitlab')))
      .map((m) => StepEvent.parse(m.value))
      .find((s) => s.workId === work.workId);
    expect(step).toMatchObject({
      subactionType: 'patch.workflow.startDeployment.triggerPipeline',
      attempt: 3,
      metadata: { pipelineId: pipeline!.id, webUrl: pipeline!.web_url },
    });
    const mine = (await events()).filter((e) => e.workId === work.workId);
    expect(mine.map((e) => `${e.status}${e.willRetry ? '+retry' : ''}`)).toEqual([
      'running',
      'failed+retry',
      'running',
      'failed+retry',
      'running',
      'succeeded',
    ]);

    // Redelivery / replay of the same item: no second pipeline.
    await publish(bus, work, `${work.workId}:replay-1`);
    await publish(bus, work, `${work.workId}:replay-2`);
    await waitFor(async () => (await events()).filter((e) => e.workId === work.workId && e.status === 'skipped').length === 2, {
      what: 'replays skipped',
    });
    expect(pipelinesFor(work.patch.id)).toHaveLength(1);
  });

  it('uses the patch gitRef; an action routed elsewhere is acked without an execution', async () => {
    gitlab.addRef('release/2026.48');
    const work = buildWorkItem('markActive', { gitRef: 'release/2026.48' });
    const other = buildWorkItem('close');
    await publish(bus, other);
    await publish(bus, work);
    await waitFor(status(work.workId, 'succeeded'), { what: 'markActive pipeline' });
    expect(pipelinesFor(work.patch.id)[0]?.ref).toBe('release/2026.48');
    expect(await store.get(other.workId)).toBeUndefined();
  });

  it('a permanent 4xx is dead-lettered with its reason; an operator retry after the fix succeeds', async () => {
    const work = buildWorkItem('startDeployment', { gitRef: 'release/2026.49' });
    await publish(bus, work);
    await waitFor(status(work.workId, 'failed'), { what: 'dead-lettered' });
    const row = await store.get(work.workId);
    expect(row?.attempts).toBe(1);
    expect(row?.lastError).toMatch(/HTTP 400 .*Reference not found/);
    const dl = (await readStream(bus, 'deadLetters', bus.topology.deadLetter('gitlab'))).map((m) => DeadLetter.parse(m.value));
    expect(dl.find((d) => d.work.workId === work.workId)).toMatchObject({ workflow: 'gitlab', attempts: 1, reason: row?.lastError });
    const final = (await events()).filter((e) => e.workId === work.workId).at(-1);
    expect(final).toMatchObject({ status: 'failed', deadLettered: true, willRetry: false });

    const listed = await bus.call(ops.listDeadLetters, {});
    expect(listed.items.find((i) => i.workId === work.workId)).toMatchObject({
      action: 'startDeployment',
      reason: expect.stringMatching(/Reference not found/),
      retriedAt: null,
    });
    // Still broken: the retry fails and the dead letter stays open.
    const again = await bus.call(ops.retryDeadLetters, { workId: work.workId }, { timeoutMs: 20_000 });
    expect(again.outcomes).toEqual([{ workId: work.workId, status: 'failed', error: expect.stringMatching(/Reference not found/) }]);

    const cliList = JSON.parse(await opsCli(namespace, 'list', '--workflow', 'gitlab')) as Array<{ workId: string }>;
    expect(cliList.map((i) => i.workId)).toContain(work.workId);

    gitlab.addRef('release/2026.49'); // the operator creates the branch
    const retried = JSON.parse(await opsCli(namespace, 'retry', '--workflow', 'gitlab', '--work-id', work.workId)) as unknown;
    expect(retried).toEqual([{ workId: work.workId, status: 'succeeded' }]);
    expect(await store.get(work.workId)).toMatchObject({ status: 'succeeded', attempts: 3 });
    expect(pipelinesFor(work.patch.id)).toHaveLength(1);
    expect((await bus.call(ops.listDeadLetters, {})).items.some((i) => i.workId === work.workId)).toBe(false);
    const all = await bus.call(ops.listDeadLetters, { includeRetried: true });
    expect(all.items.find((i) => i.workId === work.workId)).toMatchObject({ retries: 2, retriedAt: expect.any(String) });
  });

  it('transient failures past the attempt limit are dead-lettered instead of dropped', async () => {
    gitlab.inject({ status: 503, retryAfterSeconds: 0 }, { status: 500 }, { status: 500 }, { status: 500 });
    const work = buildWorkItem('markActive');
    await publish(bus, work);
    await waitFor(status(work.workId, 'failed'), { what: 'gave up' });
    expect((await store.get(work.workId))?.lastError).toMatch(/^gave up after 4 attempts: TransientError: GitLab pipeline trigger: HTTP 500/);
    expect(pipelinesFor(work.patch.id)).toHaveLength(0);
    const retried = await bus.call(ops.retryDeadLetters, { all: true }, { timeoutMs: 20_000 });
    expect(retried.outcomes).toContainEqual({ workId: work.workId, status: 'succeeded' });
    expect(pipelinesFor(work.patch.id)).toHaveLength(1);
  });

  it('a wrong trigger token (GitLab answers 404) is a permanent failure naming the likely cause', async () => {
    const ns = uniqueNamespace('gitlabtok');
    const otherBus = await connectTestBus(ns);
    try {
      const s = await start(ns, 'wrong-token');
      const work = buildWorkItem('markActive');
      await publish(otherBus, work);
      await waitFor(status(work.workId, 'failed'), { what: 'bad token dead-lettered' });
      const reason = (await store.get(work.workId))?.lastError ?? '';
      expect(reason).toMatch(/HTTP 404 .*wrong trigger token/);
      expect(reason).not.toContain('wrong-token');
      await s.stop();
    } finally {
      await deleteNamespaceStreams(otherBus);
      await otherBus.drain();
    }
  });
});
