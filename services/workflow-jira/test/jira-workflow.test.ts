import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StepEvent, workflowOpsEndpoints } from '@patchflow/contracts';
import type { Bus } from '@patchflow/bus';
import {
  buildWorkItem,
  connectTestBus,
  createTestDatabase,
  deleteNamespaceStreams,
  FakeJira,
  readStream,
  testLogLevel,
  testNatsUrl,
  uniqueNamespace,
  waitFor,
  type TestDatabase,
} from '@patchflow/testing';
import { ExecutionStore, type RunningWorkflowService } from '@patchflow/workflow-runtime';
import { parseJiraStatusMap, startJiraWorkflow } from '../src/index.js';

describe('workflow-jira', () => {
  let db: TestDatabase;
  let jira: FakeJira;
  let namespace: string;
  let bus: Bus;
  let store: ExecutionStore;
  const services: RunningWorkflowService[] = [];

  const start = async (ns: string, apiToken = jira.apiToken) => {
    const s = await startJiraWorkflow({
      natsUrl: testNatsUrl(),
      namespace: ns,
      databaseUrl: db.url,
      logLevel: testLogLevel,
      retry: { baseDelayMs: 50, maxDelayMs: 400, maxAttempts: 4 },
      jira: { url: jira.url, email: jira.email, apiToken },
      statusMap: parseJiraStatusMap('{"deployed":"Released"}'),
    });
    services.push(s);
    return s;
  };
  const publish = (b: Bus, work: ReturnType<typeof buildWorkItem>, msgId = work.workId) =>
    b.publish(b.topology.work(work.transition.action), work, { msgId });
  const status = (workId: string, want: string) => async () => (await store.get(workId))?.status === want;
  const steps = async (workId: string) =>
    (await readStream(bus, 'workflowEvents', bus.topology.step('jira')))
      .map((m) => StepEvent.parse(m.value))
      .filter((s) => s.workId === workId);

  beforeAll(async () => {
    db = await createTestDatabase('wf_jira');
    jira = await FakeJira.start();
    namespace = uniqueNamespace('jira');
    bus = await connectTestBus(namespace);
    await start(namespace);
    store = await ExecutionStore.open(db.url, 'jira', 2);
  });

  afterAll(async () => {
    for (const s of services.reverse()) await s.stop();
    await store?.close();
    await deleteNamespaceStreams(bus);
    await bus?.drain();
    await jira?.close();
    await db?.drop();
  });

  it('moves the issue to "Ready for QA" on startDeployment and comments in ADF, surviving a 5xx in between', async () => {
    const issue = jira.addIssue('PAY-101', 'In Progress');
    // The comment call fails once: the retry must not transition again, only comment.
    const work = buildWorkItem('startDeployment', { jiraKey: 'PAY-101', name: '2026.48.1' });
    jira.inject({ delayMs: 0 }, { delayMs: 0 }, { delayMs: 0 }, { status: 500 });
    await publish(bus, work);
    await waitFor(status(work.workId, 'succeeded'), { what: 'jira moved' });
    expect(issue.status).toBe('Ready for QA');
    expect(issue.transitionsApplied).toEqual(['21']);
    expect(issue.comments).toHaveLength(1);
    expect(issue.comments[0]!.body).toMatchObject({ type: 'doc', version: 1 });
    expect(JSON.stringify(issue.comments[0]!.body)).toContain('moved Active → In deployment (Start deployment by alice)');
    const row = await store.get(work.workId);
    expect(row).toMatchObject({ attempts: 2, externalRef: { transitionedTo: 'Ready for QA', transitionId: '21', commentId: issue.comments[0]!.id } });
    expect((await steps(work.workId)).map((s) => s.subactionType)).toEqual([
      'patch.workflow.startDeployment.transitionIssue',
      'patch.workflow.startDeployment.commentIssue',
    ]);
    const posts = jira.calls.filter((c) => c.method === 'POST' && c.path.endsWith('/transitions') && c.path.includes('PAY-101'));
    expect(posts).toHaveLength(1);
    expect(JSON.parse(posts[0]!.body)).toEqual({ transition: { id: '21' } });
  });

  it('skips (and logs it) when the issue is already in the target status', async () => {
    const issue = jira.addIssue('PAY-102', 'Ready for QA');
    const work = buildWorkItem('startDeployment', { jiraKey: 'PAY-102' });
    await publish(bus, work);
    await waitFor(status(work.workId, 'succeeded'), { what: 'jira skipped' });
    expect(issue.transitionsApplied).toEqual([]);
    expect(issue.comments).toEqual([]);
    expect((await steps(work.workId)).map((s) => s.message)).toEqual([
      'Jira issue PAY-102 is already in "Ready for QA"',
      'skipped: Jira issue PAY-102 is already in "Ready for QA"',
    ]);
  });

  it('skips patches without a jiraKey', async () => {
    const work = buildWorkItem('markActive');
    await publish(bus, work);
    await waitFor(status(work.workId, 'succeeded'), { what: 'no jira key' });
    expect((await steps(work.workId))[0]?.message).toBe('skipped: the patch has no jiraKey');
  });

  it('no matching transition is a permanent failure with a clear reason, dead-lettered', async () => {
    jira.addIssue('PAY-103', 'In deployment review');
    const work = buildWorkItem('completeDeployment', { jiraKey: 'PAY-103' }); // deployed → "Released": not in this workflow
    await publish(bus, work);
    await waitFor(status(work.workId, 'failed'), { what: 'jira dead-lettered' });
    const row = await store.get(work.workId);
    expect(row?.attempts).toBe(1);
    expect(row?.lastError).toBe(
      'PermanentError: Jira issue PAY-103 in "In deployment review" has no transition to "Released" (available: "Start progress" → "In Progress", "Ready for QA" → "Ready for QA", "Done" → "Done", "Reopen" → "To Do")',
    );
    const listed = await bus.call(workflowOpsEndpoints('jira').listDeadLetters, {});
    expect(listed.items.map((i) => i.workId)).toContain(work.workId);
  });

  it('bad credentials (401) are permanent; the token never appears in the reason', async () => {
    const ns = uniqueNamespace('jiraauth');
    const otherBus = await connectTestBus(ns);
    try {
      const s = await start(ns, 'wrong-secret-token');
      jira.addIssue('PAY-104');
      const work = buildWorkItem('markActive', { jiraKey: 'PAY-104' });
      await publish(otherBus, work);
      await waitFor(status(work.workId, 'failed'), { what: 'auth failure dead-lettered' });
      const reason = (await store.get(work.workId))?.lastError ?? '';
      expect(reason).toMatch(/HTTP 401/);
      expect(reason).not.toContain('wrong-secret-token');
      await s.stop();
    } finally {
      await deleteNamespaceStreams(otherBus);
      await otherBus.drain();
    }
  });
});
