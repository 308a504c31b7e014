import { describe, expect, it } from 'vitest';
import { buildWorkItem, fakeWorkflowInput } from '@patchflow/testing';
import { NotConfigured, PermanentError, TransientError } from '@patchflow/workflow-runtime';
import { InMemoryIssuePositions } from './issue-positions.js';
import type { JiraIssues, JiraTransition } from './jira-client.js';
import { defaultJiraStatusMap } from './jira-status-map.js';
import { MoveIssue } from './move-issue.js';

const workflowTransitions: JiraTransition[] = [
  { id: '11', name: 'Start progress', toStatus: 'In Progress' },
  { id: '21', name: 'Ready for QA', toStatus: 'Ready for QA' },
  { id: '31', name: 'Done', toStatus: 'Done' },
];

/** One in-memory Jira issue behind the JiraIssues port; `failComment` makes the next comment fail. */
function fakeJira(status: string, { configured = true, transitions = workflowTransitions } = {}) {
  const issue = {
    status,
    reads: 0,
    applied: [] as string[],
    comments: [] as unknown[],
    failComment: undefined as Error | undefined,
  };
  const port: JiraIssues = {
    configured,
    async issueState() {
      issue.reads++;
      return { status: issue.status, transitions };
    },
    async transition(_key, transitionId) {
      issue.applied.push(transitionId);
      issue.status = transitions.find((t) => t.id === transitionId)!.toStatus;
    },
    async addComment(_key, body) {
      const failure = issue.failComment;
      issue.failComment = undefined;
      if (failure) throw failure;
      issue.comments.push(body);
      return `c${issue.comments.length}`;
    },
  };
  return { port, issue };
}

describe('MoveIssue', () => {
  it('moves the issue to the mapped status, comments in ADF, and records both', async () => {
    const jira = fakeJira('In Progress');
    const work = buildWorkItem('startDeployment', { jiraKey: 'PAY-1', name: '2026.48.1' });
    const run = fakeWorkflowInput(work);
    expect(await new MoveIssue(jira.port, defaultJiraStatusMap, new InMemoryIssuePositions()).execute(run.input)).toEqual({
      status: 'succeeded',
    });
    expect(jira.issue).toMatchObject({ status: 'Ready for QA', reads: 1, applied: ['21'] });
    expect(jira.issue.comments).toHaveLength(1);
    expect(JSON.stringify(jira.issue.comments[0])).toContain('moved Active → In deployment (Start deployment by alice)');
    expect(run.recorded).toEqual({ transitionedTo: 'Ready for QA', transitionId: '21', commentId: 'c1' });
    expect(run.steps.map((s) => [s.subactionType, s.message])).toEqual([
      ['patch.workflow.startDeployment.transitionIssue', 'moved Jira issue PAY-1 from "In Progress" to "Ready for QA"'],
      ['patch.workflow.startDeployment.commentIssue', 'commented on Jira issue PAY-1'],
    ]);
  });

  it('after a failed comment, the rerun only comments: the issue is not moved twice', async () => {
    const jira = fakeJira('In Progress');
    const work = buildWorkItem('startDeployment', { jiraKey: 'PAY-2' });
    const move = new MoveIssue(jira.port, defaultJiraStatusMap, new InMemoryIssuePositions());
    jira.issue.failComment = new TransientError('Jira comment on PAY-2: HTTP 500');
    const first = fakeWorkflowInput(work);
    await expect(move.execute(first.input)).rejects.toThrow(/HTTP 500/);
    expect(first.recorded).toEqual({ transitionedTo: 'Ready for QA', transitionId: '21' });

    const rerun = fakeWorkflowInput(work, { attempt: 2, externalRef: first.recorded });
    expect(await move.execute(rerun.input)).toEqual({ status: 'succeeded' });
    expect(jira.issue.applied).toEqual(['21']);
    expect(jira.issue.comments).toHaveLength(1);
    expect(rerun.recorded).toMatchObject({ commentId: 'c1' });
    expect(rerun.steps.map((s) => s.subactionType)).toEqual(['patch.workflow.startDeployment.commentIssue']);
  });

  it('skips (and logs it) when the issue is already in the target status, whatever its case', async () => {
    const jira = fakeJira('ready for qa');
    const run = fakeWorkflowInput(buildWorkItem('startDeployment', { jiraKey: 'PAY-3' }));
    expect(await new MoveIssue(jira.port, defaultJiraStatusMap, new InMemoryIssuePositions()).execute(run.input)).toEqual({
      status: 'skipped',
      reason: 'Jira issue PAY-3 is already in "Ready for QA"',
    });
    expect(jira.issue).toMatchObject({ reads: 1, applied: [], comments: [] });
    expect(run.steps).toEqual([
      {
        subactionType: 'patch.workflow.startDeployment.alreadyInStatus',
        message: 'Jira issue PAY-3 is already in "Ready for QA"',
        metadata: { jiraKey: 'PAY-3', status: 'ready for qa' },
      },
    ]);
  });

  it('skips a patch without a jiraKey, and a status the map does not name', async () => {
    const jira = fakeJira('To Do');
    const move = new MoveIssue(jira.port, { in_deployment: 'Ready for QA' }, new InMemoryIssuePositions());
    expect(await move.execute(fakeWorkflowInput(buildWorkItem('markActive')).input)).toEqual({
      status: 'skipped',
      reason: 'the patch has no jiraKey',
    });
    expect(await move.execute(fakeWorkflowInput(buildWorkItem('markActive', { jiraKey: 'PAY-4' })).input)).toEqual({
      status: 'skipped',
      reason: 'no Jira status is mapped for patch status active',
    });
    expect(jira.issue.applied).toEqual([]);
  });

  it('no transition to the target is a permanent failure listing what is available', async () => {
    const jira = fakeJira('In review', { transitions: [{ id: '5', name: 'Reopen', toStatus: 'To Do' }] });
    const run = fakeWorkflowInput(buildWorkItem('completeDeployment', { jiraKey: 'PAY-5' }));
    const failure = new MoveIssue(jira.port, defaultJiraStatusMap, new InMemoryIssuePositions()).execute(run.input);
    await expect(failure).rejects.toBeInstanceOf(PermanentError);
    await expect(failure).rejects.toThrow(
      'Jira issue PAY-5 in "In review" has no transition to "Done" (available: "Reopen" → "To Do")',
    );
    expect(run.recorded).toEqual({});
  });

  it('without a Jira configured, it is not configured (before looking at the patch)', async () => {
    const run = fakeWorkflowInput(buildWorkItem('markActive'));
    await expect(
      new MoveIssue(fakeJira('To Do', { configured: false }).port, defaultJiraStatusMap, new InMemoryIssuePositions()).execute(
        run.input,
      ),
    ).rejects.toBeInstanceOf(NotConfigured);
  });

  it('never moves backwards: an older transition of the patch arriving after a newer one only comments', async () => {
    const jira = fakeJira('To Do');
    const positions = new InMemoryIssuePositions();
    const move = new MoveIssue(jira.port, defaultJiraStatusMap, positions);
    const patchId = '6b3a3c55-2f4e-4c8b-9a8c-5d8a2f1e0c11';
    const markActive = buildWorkItem('markActive', { id: patchId, version: 2, jiraKey: 'PAY-48' });
    const startDeployment = buildWorkItem('startDeployment', { id: patchId, version: 3, jiraKey: 'PAY-48' });
    expect(await move.execute(fakeWorkflowInput(startDeployment).input)).toEqual({ status: 'succeeded' });
    const late = fakeWorkflowInput(markActive);
    expect(await move.execute(late.input)).toEqual({ status: 'succeeded' });
    expect(jira.issue).toMatchObject({ status: 'Ready for QA', applied: ['21'] });
    expect(jira.issue.comments).toHaveLength(2);
    expect(late.steps.map((s) => [s.subactionType, s.message])).toEqual([
      [
        'patch.workflow.markActive.moveSkipped',
        'skipped: a newer transition (startDeployment, version 3) already moved PAY-48 to "Ready for QA"; not moving it back to "In Progress"',
      ],
      ['patch.workflow.markActive.commentIssue', 'commented on Jira issue PAY-48'],
    ]);
    expect(late.recorded).toEqual({ moveSkipped: { newerPatchVersion: 3, newerAction: 'startDeployment' }, commentId: 'c2' });
    // Its rerun (the comment failed, say) does not look at the position again.
    const rerun = fakeWorkflowInput(markActive, { attempt: 2, externalRef: { moveSkipped: late.recorded.moveSkipped } });
    await move.execute(rerun.input);
    expect(rerun.steps.map((s) => s.subactionType)).toEqual(['patch.workflow.markActive.commentIssue']);
    expect(jira.issue.applied).toEqual(['21']);
  });

  it('another patch sharing the issue, and a newer transition of the same patch, still move it', async () => {
    const jira = fakeJira('To Do');
    const move = new MoveIssue(jira.port, defaultJiraStatusMap, new InMemoryIssuePositions());
    await move.execute(fakeWorkflowInput(buildWorkItem('startDeployment', { version: 3, jiraKey: 'PAY-49' })).input);
    await move.execute(fakeWorkflowInput(buildWorkItem('markActive', { version: 2, jiraKey: 'PAY-49' })).input);
    expect(jira.issue.status).toBe('In Progress');
  });
});
