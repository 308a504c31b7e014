import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@patchflow/testing';
import { client, tokens } from './helpers.js';
import { startSystemInProcess, type System } from './system.js';

// The UI's repair routes against the whole system in this process: a GitLab pipeline that fails
// (the branch is missing) is dead-lettered, shows under /api/attention, is retried by an
// operator once the branch exists, and replayed by an admin; each leaves a step in the history.
let system: System;
let http: ReturnType<typeof client>;

beforeAll(async () => {
  system = await startSystemInProcess('opsroutes');
  http = client(system.url);
});

afterAll(async () => {
  await system?.stop();
});

/** The gitlab execution of a work item, as the history shows it. */
async function gitlabExecution(workId: string) {
  const work = await http('GET', `/api/work/${workId}`, { token: tokens.viewer });
  expect(work.status).toBe(200);
  return (
    work.body.work.executions as { workflow: string; status: string; attempts: number; steps: { message: string }[] }[]
  ).find((e) => e.workflow === 'gitlab');
}

describe('operator routes', () => {
  let workId: string;
  let patchId: string;

  it('GET /api/attention lists a dead-lettered execution with its patch; viewers are refused', async () => {
    const created = await http('POST', '/api/patches', {
      token: tokens.operator,
      body: { name: '2026.48.70', product: 'payments', gitRef: 'release/2026.48.70' },
    });
    expect(created.status).toBe(201);
    patchId = created.body.patch.id;
    const active = await http('POST', `/api/patches/${patchId}/mark-active`, { token: tokens.operator });
    expect(active.status).toBe(200);

    let items: { kind: string; workId: string; patchId: string; patchName: string; workflow: string; action: string }[] = [];
    await waitFor(
      async () => {
        const res = await http('GET', '/api/attention', { token: tokens.operator });
        items = res.body.items ?? [];
        return items.some((i) => i.patchId === patchId && i.kind === 'dead_letter');
      },
      { what: 'the dead letter under /api/attention', timeoutMs: 60_000 },
    );
    const item = items.find((i) => i.patchId === patchId && i.kind === 'dead_letter')!;
    expect(item).toMatchObject({ workflow: 'gitlab', action: 'markActive', patchName: '2026.48.70', reason: expect.any(String) });
    workId = item.workId;

    const viewer = await http('GET', '/api/attention', { token: tokens.viewer });
    expect(viewer.status).toBe(403);
    expect(viewer.body.error.code).toBe('forbidden');
  });

  it('retry: viewer 403, bad workflow 400, unknown work 404; operator retry succeeds once the cause is fixed, then 409', async () => {
    const path = `/api/work/${workId}/workflows/gitlab/retry`;
    expect((await http('POST', path, { token: tokens.viewer, body: {} })).status).toBe(403);
    const bad = await http('POST', `/api/work/${workId}/workflows/jenkins/retry`, { token: tokens.operator, body: {} });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body.error)).toMatch(/workflow/);
    const unknown = await http('POST', '/api/work/00000000-0000-4000-8000-000000000000/workflows/gitlab/retry', {
      token: tokens.operator,
    });
    expect(unknown.status).toBe(404);

    system.fakes.gitlab.addRef('release/2026.48.70');
    const retried = await http('POST', path, { token: tokens.operator, body: { reason: 'branch pushed' } });
    expect(retried.status, JSON.stringify(retried.body)).toBe(200);
    expect(retried.body).toEqual({ outcome: { workId, workflow: 'gitlab', status: 'succeeded' } });
    expect(system.fakes.gitlab.pipelines.filter((p) => p.variables.PATCH_ID === patchId)).toHaveLength(1);

    const again = await http('POST', path, { token: tokens.operator, body: {} });
    expect(again.status).toBe(409);
    expect(again.body.error.message).toMatch(/already succeeded/);
    const attention = await http('GET', '/api/attention', { token: tokens.admin });
    expect(attention.body.items.filter((i: { workId: string }) => i.workId === workId)).toEqual([]);
  });

  it('replay: operator 403, a reason is required; an admin replay is a new attempt with the caller and reason in the history', async () => {
    const path = `/api/work/${workId}/workflows/gitlab/replay`;
    expect((await http('POST', path, { token: tokens.operator, body: { reason: 'again' } })).status).toBe(403);
    const noReason = await http('POST', path, { token: tokens.admin, body: {} });
    expect(noReason.status).toBe(400);
    expect(JSON.stringify(noReason.body.error)).toMatch(/reason/);

    const before = (await gitlabExecution(workId))!.attempts;
    const replayed = await http('POST', path, { token: tokens.admin, body: { reason: 'pipeline config changed' } });
    expect(replayed.status, JSON.stringify(replayed.body)).toBe(200);
    expect(replayed.body.outcome).toMatchObject({ workId, workflow: 'gitlab', status: 'succeeded', attempt: before + 1 });
    expect(system.fakes.gitlab.pipelines.filter((p) => p.variables.PATCH_ID === patchId)).toHaveLength(2);

    await waitFor(async () => (await gitlabExecution(workId))?.attempts === before + 1, { what: 'the replay in the history' });
    const steps = (await gitlabExecution(workId))!.steps.map((s) => s.message);
    expect(steps).toContain('retried by otto: branch pushed');
    expect(steps).toContain('replay forced by ada: pipeline config changed');
    expect((await gitlabExecution(workId))!.status).toBe('succeeded');

    // Work not routed to a workflow (markActive has no successor) cannot be replayed there.
    const notRouted = await http('POST', `/api/work/${workId}/workflows/successor/replay`, {
      token: tokens.admin,
      body: { reason: 'try' },
    });
    expect(notRouted.status).toBe(404);
  });
});
