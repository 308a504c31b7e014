import { describe, expect, it } from 'vitest';
import { routing, type ActionName, type WorkView } from '@patchflow/contracts';
import { waitFor } from '@patchflow/testing';
import { tokens } from './helpers.js';
import { startSystemAsProcesses, systemPerFile } from './system.js';

// Every service as its own process (patch-status, action-log, the four workflows, gateway), the
// fake Slack/GitLab/Jira servers, and a patch driven through its whole lifecycle over HTTP only.
const system = systemPerFile(() => startSystemAsProcesses('e2e'), { timeoutMs: 240_000, jiraIssues: ['PAY-77'] });
const { http } = system;

const lifecyclePath: { action: ActionName; path: string; token: string; body?: Record<string, unknown> }[] = [
  { action: 'markActive', path: 'mark-active', token: tokens.operator },
  { action: 'startDeployment', path: 'start-deployment', token: tokens.operator },
  { action: 'failDeployment', path: 'fail-deployment', token: tokens.operator, body: { reason: 'smoke tests red' } },
  { action: 'startDeployment', path: 'start-deployment', token: tokens.admin },
  { action: 'completeDeployment', path: 'complete-deployment', token: tokens.operator },
  { action: 'close', path: 'close', token: tokens.operator },
];

const settled = (e: { status: string }) => e.status === 'succeeded' || e.status === 'skipped';

describe('end to end', () => {
  it('drives a patch through its whole lifecycle and records every side effect', async () => {
    const created = await http('POST', '/api/patches', {
      token: tokens.operator,
      body: { name: 'payments 2026.48.1', product: 'payments', jiraKey: 'PAY-77', gitRef: 'release/2026.48' },
    });
    expect(created.status).toBe(201);
    const id: string = created.body.patch.id;

    let version = 1;
    for (const step of lifecyclePath) {
      const res = await http('POST', `/api/patches/${id}/${step.path}`, {
        token: step.token,
        body: { expectedVersion: version, ...step.body },
      });
      expect(res.status, `${step.action}: ${JSON.stringify(res.body)}`).toBe(200);
      version = res.body.patch.version;
      // Each transition's work is fully handled before the next one (the Jira issue moves in order).
      await waitFor(
        async () => {
          const h = await http('GET', `/api/patches/${id}/history`, { token: tokens.viewer });
          const last = (h.body.entries as WorkView[]).at(-1);
          return (
            last?.transition?.patchVersion === version &&
            last.executions.length === routing[step.action].length &&
            last.executions.every(settled)
          );
        },
        { timeoutMs: 30_000, what: `the workflows of ${step.action} to settle` },
      );
    }

    const final = await http('GET', `/api/patches/${id}`, { token: tokens.admin });
    expect(final.body).toMatchObject({ patch: { status: 'closed', version: 7 }, allowedActions: [], actionsForCaller: [] });

    // The history: every transition, with the routed workflows' executions and their steps.
    const history = await http('GET', `/api/patches/${id}/history`, { token: tokens.viewer });
    const entries = history.body.entries as WorkView[];
    expect(entries.map((e) => e.action)).toEqual(lifecyclePath.map((s) => s.action));
    expect(entries.map((e) => e.transition?.actor)).toEqual(['otto', 'otto', 'otto', 'ada', 'otto', 'otto']);
    expect(entries[2]?.transition?.reason).toBe('smoke tests red');
    for (const entry of entries) {
      expect(entry.executions.map((e) => e.workflow)).toEqual([...routing[entry.action]]);
      for (const e of entry.executions) {
        expect(settled(e), `${entry.action}/${e.workflow} is ${e.status}`).toBe(true);
        if (e.status === 'succeeded') expect(e.steps.length, `${entry.action}/${e.workflow} steps`).toBeGreaterThan(0);
      }
    }
    const firstSuccessor = entries[1]?.executions.find((e) => e.workflow === 'successor');
    expect(firstSuccessor?.status).toBe('succeeded');
    expect(firstSuccessor?.steps.map((s) => s.subactionType)).toContain('patch.workflow.startDeployment.createSuccessor');

    // Exactly one successor, although startDeployment ran twice.
    expect(final.body.successorId).toEqual(expect.any(String));
    const payments = await http('GET', '/api/patches?product=payments', { token: tokens.viewer });
    const successors = payments.body.items.filter((p: { predecessorId: string | null }) => p.predecessorId === id);
    expect(successors).toHaveLength(1);
    expect(successors[0]).toMatchObject({ id: final.body.successorId, name: 'payments 2026.48.2', status: 'draft' });

    // What the third parties received.
    const { slack, gitlab, jira } = system.fakes;
    expect(slack.posts).toHaveLength(6);
    expect(JSON.stringify(slack.posts)).toMatch(/payments 2026\.48\.1/);
    expect(gitlab.pipelines.map((p) => p.ref)).toEqual(['release/2026.48', 'release/2026.48', 'release/2026.48']);
    const issue = jira.issues.get('PAY-77');
    expect(issue?.status).toBe('Done');
    // In Progress, Ready for QA, In Progress (failed), Ready for QA, Done; `close` finds it Done already.
    expect(issue?.transitionsApplied).toEqual(['11', '21', '11', '21', '31']);

    // The work item endpoint agrees with the history.
    const work = await http('GET', `/api/work/${entries[1]?.workId}`, { token: tokens.viewer });
    expect(work.body.work).toEqual(entries[1]);
  });

  it('stops every service cleanly on SIGTERM', async () => {
    await system.stop(); // throws if any process exits non-zero
  }, 60_000);
});
