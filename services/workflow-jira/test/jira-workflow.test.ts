import { describe, expect } from 'vitest';
import { workflowOpsEndpoints } from '@patchflow/contracts';
import { randomUUID } from 'node:crypto';
import { buildWorkItem, FakeJira, waitFor, workflowTest } from '@patchflow/testing';
import { ExecutionStore } from '@patchflow/workflow-runtime';
import { parseJiraStatusMap, startJiraWorkflow } from '../src/index.js';

const it = workflowTest({
  workflow: 'jira',
  label: 'jira',
  remote: () => FakeJira.start(),
  start: ({ remote: jira, ...at }, { apiToken = jira.apiToken }: { apiToken?: string }) =>
    startJiraWorkflow({
      ...at,
      retry: { baseDelayMs: 50, maxDelayMs: 400, maxAttempts: 10 },
      jira: { url: jira.url, email: jira.email, apiToken },
      statusMap: parseJiraStatusMap('{"deployed":"Released"}'),
    }),
  openStore: (url) => ExecutionStore.open(url, 'jira', 2),
});

describe('workflow-jira', () => {
  it('moves the issue to "Ready for QA" on startDeployment and comments in ADF, surviving a 5xx in between', async ({
    remote: jira,
    store,
    workflow,
  }) => {
    const issue = jira.addIssue('PAY-101', 'In Progress');
    // The comment call (the third: get issue, move, comment) fails once: the retry must not
    // transition again, only comment.
    const work = buildWorkItem('startDeployment', { jiraKey: 'PAY-101', name: '2026.48.1' });
    jira.inject({ delayMs: 0 }, { delayMs: 0 }, { status: 500 });
    await workflow.publish(work);
    await waitFor(workflow.reaches(work.workId, 'succeeded'), { what: 'jira moved' });
    expect(issue.status).toBe('Ready for QA');
    expect(issue.transitionsApplied).toEqual(['21']);
    expect(issue.comments).toHaveLength(1);
    expect(issue.comments[0]!.body).toMatchObject({ type: 'doc', version: 1 });
    expect(JSON.stringify(issue.comments[0]!.body)).toContain('moved Active → In deployment (Start deployment by alice)');
    const row = await store.get(work.workId);
    expect(row).toMatchObject({
      attempts: 2,
      externalRef: { transitionedTo: 'Ready for QA', transitionId: '21', commentId: issue.comments[0]!.id },
    });
    expect((await workflow.stepEvents({ workId: work.workId })).map((s) => s.subactionType)).toEqual([
      'patch.workflow.startDeployment.transitionIssue',
      'patch.workflow.startDeployment.commentIssue',
    ]);
    const posts = jira.calls.filter((c) => c.method === 'POST' && c.path.endsWith('/transitions') && c.path.includes('PAY-101'));
    expect(posts).toHaveLength(1);
    expect(JSON.parse(posts[0]!.body)).toEqual({ transition: { id: '21' } });
  });

  it('a move makes exactly three Jira calls: get issue with its transitions, move, comment', async ({
    remote: jira,
    workflow,
  }) => {
    const issue = jira.addIssue('PAY-105', 'To Do');
    const work = buildWorkItem('markActive', { jiraKey: 'PAY-105' });
    await workflow.publish(work);
    await waitFor(workflow.reaches(work.workId, 'succeeded'), { what: 'jira moved' });
    expect(issue.status).toBe('In Progress');
    const calls = jira.calls.filter((c) => c.path.includes('PAY-105'));
    expect(calls.map((c) => [c.method, c.path, c.query.toString()])).toEqual([
      ['GET', '/rest/api/3/issue/PAY-105', 'fields=status&expand=transitions'],
      ['POST', '/rest/api/3/issue/PAY-105/transitions', ''],
      ['POST', '/rest/api/3/issue/PAY-105/comment', ''],
    ]);
  });

  it('skips (and logs it) when the issue is already in the target status', async ({ remote: jira, workflow }) => {
    const issue = jira.addIssue('PAY-102', 'Ready for QA');
    const work = buildWorkItem('startDeployment', { jiraKey: 'PAY-102' });
    await workflow.publish(work);
    await waitFor(workflow.reaches(work.workId, 'succeeded'), { what: 'jira skipped' });
    expect(issue.transitionsApplied).toEqual([]);
    expect(issue.comments).toEqual([]);
    expect((await workflow.stepEvents({ workId: work.workId })).map((s) => s.message)).toEqual([
      'Jira issue PAY-102 is already in "Ready for QA"',
      'skipped: Jira issue PAY-102 is already in "Ready for QA"',
    ]);
  });

  it('skips patches without a jiraKey', async ({ workflow }) => {
    const work = buildWorkItem('markActive');
    await workflow.publish(work);
    await waitFor(workflow.reaches(work.workId, 'succeeded'), { what: 'no jira key' });
    expect((await workflow.stepEvents({ workId: work.workId }))[0]?.message).toBe('skipped: the patch has no jiraKey');
  });

  it('no matching transition is a permanent failure with a clear reason, dead-lettered', async ({
    remote: jira,
    bus,
    store,
    workflow,
  }) => {
    jira.addIssue('PAY-103', 'In deployment review');
    const work = buildWorkItem('completeDeployment', { jiraKey: 'PAY-103' }); // deployed → "Released": not in this workflow
    await workflow.publish(work);
    await waitFor(workflow.reaches(work.workId, 'failed'), { what: 'jira dead-lettered' });
    const row = await store.get(work.workId);
    expect(row?.attempts).toBe(1);
    expect(row?.lastError).toBe(
      'PermanentError: Jira issue PAY-103 in "In deployment review" has no transition to "Released" (available: "Start progress" → "In Progress", "Ready for QA" → "Ready for QA", "Done" → "Done", "Reopen" → "To Do")',
    );
    const listed = await bus.call(workflowOpsEndpoints('jira').listDeadLetters, {});
    expect(listed.items.map((i) => i.workId)).toContain(work.workId);
  });

  it('bad credentials (401) are permanent; the token never appears in the reason', async ({ remote: jira, store, workflow }) => {
    const otherBus = await workflow.isolatedBus('jiraauth');
    const s = await workflow.start({ namespace: otherBus.topology.namespace, apiToken: 'wrong-secret-token' });
    jira.addIssue('PAY-104');
    const work = buildWorkItem('markActive', { jiraKey: 'PAY-104' });
    await workflow.publish(work, { bus: otherBus });
    await waitFor(workflow.reaches(work.workId, 'failed'), { what: 'auth failure dead-lettered' });
    const reason = (await store.get(work.workId))?.lastError ?? '';
    expect(reason).toMatch(/HTTP 401/);
    expect(reason).not.toContain('wrong-secret-token');
    await s.stop();
  });

  it("never moves the issue backwards: markActive's move gets 503s while startDeployment's succeeds, then Jira recovers", async ({
    remote: jira,
    store,
    workflow,
  }) => {
    const issue = jira.addIssue('PAY-48', 'To Do');
    const recover = jira.failTransitionsTo('PAY-48', 'In Progress');
    const patchId = randomUUID();
    const markActive = buildWorkItem('markActive', { id: patchId, version: 2, jiraKey: 'PAY-48' });
    const startDeployment = buildWorkItem('startDeployment', { id: patchId, version: 3, jiraKey: 'PAY-48' });
    await workflow.publish(markActive);
    await waitFor(async () => ((await store.get(markActive.workId))?.lastError ?? '').includes('503'), {
      what: 'markActive failing with 503',
    });
    await workflow.publish(startDeployment);
    await waitFor(workflow.reaches(startDeployment.workId, 'succeeded'), { what: 'startDeployment moved the issue' });
    expect(issue.status).toBe('Ready for QA');
    recover();
    await waitFor(workflow.reaches(markActive.workId, 'succeeded'), { what: 'markActive settled after recovery' });
    expect(issue.status).toBe('Ready for QA');
    expect(issue.transitionsApplied).toEqual(['21']);
    expect(issue.comments).toHaveLength(2);
    const steps = await workflow.stepEvents({ workId: markActive.workId });
    expect(steps.map((s) => [s.subactionType, s.message])).toEqual([
      [
        'patch.workflow.markActive.moveSkipped',
        'skipped: a newer transition (startDeployment, version 3) already moved PAY-48 to "Ready for QA"; not moving it back to "In Progress"',
      ],
      ['patch.workflow.markActive.commentIssue', 'commented on Jira issue PAY-48'],
    ]);
    expect((await store.get(markActive.workId))?.attempts).toBeGreaterThan(1);
  });
});
