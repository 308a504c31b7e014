import { describe, expect, it } from 'vitest';
import type { HistoryEntry, PatchHistoryPage } from '@patchflow/contracts';
import { waitFor } from '@patchflow/testing';
import { readEvents, tokens } from './helpers.js';
import { startSystemInProcess, systemPerFile } from './system.js';

// The history a release manager trusts, against every service (in-process) and the fake GitLab
// and Jira: a transition settles once every routed workflow is final, with its time to settle;
// a retry shows as two attempts; the pipeline and the issue are links; a dead-lettered move makes
// the transition (and the patch) `failed`, counted and filterable in the list, and the live
// event says so.
const system = systemPerFile(() => startSystemInProcess('hist'), { timeoutMs: 120_000, jiraIssues: ['PAY-3'] });
const { http } = system;

const history = async (id: string) =>
  (await http<PatchHistoryPage>('GET', `/api/patches/${id}/history`, { token: tokens.viewer })).body;
const settledEntry = (id: string, action: string) =>
  waitFor(
    async () => {
      const entry = (await history(id)).entries.find((e) => e.action === action);
      return entry?.settled ? entry : false;
    },
    { timeoutMs: 30_000, what: `the effects of ${action} to settle` },
  );
const latestFinish = (e: HistoryEntry) => Math.max(...e.executions.map((x) => Date.parse(x.finishedAt!)));

describe('settled, attempts, durations and links', () => {
  let id: string;

  it('settles a transition once every workflow is final; a retried pipeline shows both attempts and its link', async () => {
    const created = await http('POST', '/api/patches', {
      token: tokens.operator,
      body: { name: '2026.48.1', product: 'payments', jiraKey: 'PAY-3', gitRef: 'release/2026.48' },
    });
    expect(created.status).toBe(201);
    id = created.body.patch.id;
    // GitLab answers 503 once: the first attempt fails, the retry triggers the pipeline.
    system.fakes.gitlab.inject({ status: 503, body: { message: 'maintenance' } });
    const active = await http('POST', `/api/patches/${id}/mark-active`, { token: tokens.operator });
    expect(active.status).toBe(200);

    // Read-your-writes: the transition is there at once, whatever the workflows did so far.
    const first = await history(id);
    expect(first.entries.map((e) => e.transition.id)).toEqual([active.body.transition.id]);
    expect(first.entries[0]!.executions.map((e) => e.workflow)).toEqual(['gitlab', 'jira', 'slack']);

    const entry = await settledEntry(id, 'markActive');
    expect(entry.effects).toBe('settled');
    expect(entry.running).toEqual([]);
    expect(entry.failed).toEqual([]);
    expect(entry.executions.map((e) => `${e.workflow}:${e.status}`)).toEqual([
      'gitlab:succeeded',
      'jira:succeeded',
      'slack:succeeded',
    ]);
    expect(entry.settledAt).toBe(new Date(latestFinish(entry)).toISOString());
    expect(entry.settleMs).toBe(Date.parse(entry.settledAt!) - Date.parse(entry.transition.createdAt));

    const gitlab = entry.executions.find((e) => e.workflow === 'gitlab')!;
    expect(gitlab.attemptList).toHaveLength(2);
    expect(gitlab.attemptList[0]).toMatchObject({ attempt: 1, outcome: 'failed', error: expect.stringMatching(/503/) });
    expect(gitlab.attemptList[1]).toMatchObject({ attempt: 2, outcome: 'succeeded', error: null });
    expect(Date.parse(gitlab.attemptList[1]!.startedAt)).toBeGreaterThanOrEqual(Date.parse(gitlab.attemptList[0]!.finishedAt!));
    expect(gitlab.durationMs).toBe(Date.parse(gitlab.finishedAt!) - Date.parse(gitlab.startedAt!));
    const [pipeline] = system.fakes.gitlab.pipelines;
    expect(gitlab.links).toEqual([{ label: `pipeline #${pipeline!.id}`, url: pipeline!.web_url }]);

    const jira = entry.executions.find((e) => e.workflow === 'jira')!;
    expect(jira.attemptList).toMatchObject([{ attempt: 1, outcome: 'succeeded' }]);
    expect(jira.links).toEqual([{ label: 'PAY-3', url: `${system.fakes.jira.url}/browse/PAY-3` }]);

    const patch = await history(id);
    expect(patch.effects).toEqual({ state: 'settled', running: [], failed: [] });
    const work = await http('GET', `/api/work/${active.body.transition.workId}`, { token: tokens.viewer });
    expect(work.body.work).toEqual(patch.entries[0]);
  });

  it('a dead-lettered Jira move makes the transition and the patch failed, live, and in the list', async () => {
    const events = await fetch(`${system.url}/api/patches/${id}/events?access_token=${tokens.viewer}`);
    expect(events.status).toBe(200);
    let workId = '';
    const failedPing = readEvents(events.body!, (evs) =>
      evs.some((e) => {
        if (e.event !== 'updated' || !workId) return false;
        const data = JSON.parse(e.data) as { workId: string; settled: boolean; effects: string };
        return data.workId === workId && data.settled && data.effects === 'failed';
      }),
    );
    // Jira refuses the next request for good (a 400 is permanent): the move is dead-lettered.
    system.fakes.jira.inject({ status: 400, body: { errorMessages: ['broken on purpose'], errors: {} } });
    const deploy = await http('POST', `/api/patches/${id}/start-deployment`, { token: tokens.operator });
    expect(deploy.status).toBe(200);
    workId = deploy.body.transition.workId;

    const entry = await settledEntry(id, 'startDeployment');
    expect(entry).toMatchObject({ effects: 'failed', failed: ['jira'], running: [] });
    expect(entry.executions.find((e) => e.workflow === 'jira')).toMatchObject({
      status: 'failed',
      deadLettered: true,
      attemptList: [{ attempt: 1, outcome: 'failed', error: expect.stringMatching(/400/) }],
    });
    expect(entry.settleMs).toBe(Date.parse(entry.settledAt!) - Date.parse(entry.transition.createdAt));
    const received = await failedPing;
    expect(received.some((e) => e.event === 'updated' && JSON.parse(e.data).effects === 'failed')).toBe(true);

    const patch = await history(id);
    expect(patch.effects).toEqual({
      state: 'failed',
      running: [],
      failed: [{ workId, action: 'startDeployment', workflow: 'jira' }],
    });
    expect(patch.timeInStatus.map((s) => s.status)).toEqual(['draft', 'active', 'in_deployment']);

    const failing = await http('GET', '/api/patches?hasFailures=true', { token: tokens.viewer });
    expect(failing.body.items).toEqual([expect.objectContaining({ id, failures: 1 })]);
    const all = await http('GET', '/api/patches?product=payments', { token: tokens.viewer });
    // The successor (created by startDeployment) has no failures.
    expect(all.body.items.map((p: { name: string; failures: number }) => `${p.name}:${p.failures}`).sort()).toEqual([
      '2026.48.1:1',
      '2026.48.2:0',
    ]);
    const detail = await http('GET', `/api/patches/${id}`, { token: tokens.viewer });
    expect(detail.body).toMatchObject({ successor: { name: '2026.48.2' }, predecessor: null, patch: { createdBy: 'otto' } });
  });
});
