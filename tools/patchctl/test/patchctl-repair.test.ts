/**
 * patchctl's repair commands against a running gitlab workflow (fake GitLab) and the action-log,
 * in this file's bus namespace and databases: replay (skip what succeeded, --force as a new
 * attempt with actor and reason in the history, not routed), dlq discard, rebuild, lifecycle.
 */
import { describe, expect } from 'vitest';
import { startActionLog } from '@patchflow/action-log';
import { actionLogEndpoints, workflowOpsEndpoints, type ExecutionView } from '@patchflow/contracts';
import { buildWorkItem, createTestDatabase, readStream, testLogLevel, testNatsUrl, waitFor } from '@patchflow/testing';
import { at, gitlabWorkflowTest, patchctl, pipelinesFor } from './fixtures.js';

const it = gitlabWorkflowTest('ctlrepair', 2).extend(
  'actionLog',
  { scope: 'file', auto: true },
  async ({ namespace, workflow: _started }, { onCleanup }) => {
    const db = await createTestDatabase('ctlrepair_log');
    const app = await startActionLog({ databaseUrl: db.url, natsUrl: testNatsUrl(), namespace, logLevel: testLogLevel });
    onCleanup(async () => {
      await app.stop();
      await db.drop();
    });
    return { databaseUrl: db.url };
  },
);

describe('patchctl repair', () => {
  it('replay skips what already succeeded; --force needs a reason and runs it as a new attempt, actor and reason in the history', async ({
    namespace,
    bus,
    remote: gitlab,
    store,
    workflow,
  }) => {
    const work = buildWorkItem('markActive', { gitRef: 'main' });
    await workflow.publish(work);
    await waitFor(workflow.reaches(work.workId, 'succeeded'), { what: 'succeeded' });
    expect(pipelinesFor(gitlab, work.patch.id)).toHaveLength(1);

    const plain = await patchctl(['replay', '--patch', work.patch.id, '-w', 'gitlab', '--json', ...at(namespace)]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(JSON.parse(plain.stdout).items).toEqual([
      expect.objectContaining({ workId: work.workId, workflow: 'gitlab', result: 'already_succeeded' }),
    ]);
    expect(pipelinesFor(gitlab, work.patch.id)).toHaveLength(1);

    const noReason = await patchctl(['replay', '--patch', work.patch.id, '-w', 'gitlab', '--force', ...at(namespace)]);
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toBe('patchctl: --force needs --reason <text> (it is recorded in the history)\n');

    const forced = await patchctl([
      'replay',
      '--patch',
      work.patch.id,
      '-w',
      'gitlab',
      '--force',
      '--reason',
      'GitLab trigger token was wrong',
      '--actor',
      'alice',
      ...at(namespace),
    ]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toMatch(/^SEQ +WORK ID +ACTION +PATCH +WORKFLOW +RESULT +ATTEMPT +DETAIL$/m);
    expect(forced.stdout).toMatch(new RegExp(`${work.workId} +markActive .* gitlab +succeeded +2`));
    expect(pipelinesFor(gitlab, work.patch.id)).toHaveLength(2);
    expect(await store.get(work.workId)).toMatchObject({
      status: 'succeeded',
      attempts: 2,
      operatorActor: 'alice',
      operatorReason: 'GitLab trigger token was wrong',
    });

    // The history (action-log) shows the new attempt and who forced it, and why.
    let execution: ExecutionView | undefined;
    await waitFor(
      async () => {
        const reply = await bus.request(actionLogEndpoints.work, { workId: work.workId });
        execution = reply.ok ? reply.result.work.executions.find((e) => e.workflow === 'gitlab') : undefined;
        return execution?.attempts === 2 && execution.status === 'succeeded';
      },
      { what: 'the forced attempt in the history' },
    );
    expect(execution!.steps).toContainEqual(
      expect.objectContaining({
        attempt: 2,
        message: 'replay forced by alice: GitLab trigger token was wrong',
        metadata: expect.objectContaining({ actor: 'alice', reason: 'GitLab trigger token was wrong' }),
      }),
    );
  });

  it('replay skips work not routed to the workflow (here and in the workflow itself)', async ({ namespace, bus, workflow }) => {
    const work = buildWorkItem('completeDeployment');
    await workflow.publish(work);
    const run = await patchctl(['replay', '--patch', work.patch.id, '-w', 'gitlab', '--json', ...at(namespace)]);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).items).toEqual([expect.objectContaining({ workId: work.workId, result: 'not_routed' })]);
    // Asked directly, the workflow reads the item from the stream and refuses it the same way.
    const seq = (await readStream(bus, 'work')).find((m) => m.msgId === work.workId)!.seq;
    const reply = await bus.request(workflowOpsEndpoints('gitlab').replay, {
      items: [{ workId: work.workId, streamSeq: seq }],
      force: true,
      actor: 'alice',
      reason: 'try',
    });
    expect(reply.ok && reply.result.outcomes).toEqual([
      { workId: work.workId, status: 'not_routed', detail: 'completeDeployment is not routed to gitlab' },
    ]);
    // A sequence that holds another item is not taken for this one.
    const wrong = await bus.request(workflowOpsEndpoints('gitlab').replay, {
      items: [{ workId: '00000000-0000-4000-8000-000000000000', streamSeq: seq }],
    });
    expect(wrong.ok && wrong.result.outcomes[0]).toMatchObject({
      status: 'not_found',
      detail: expect.stringMatching(/holds work/),
    });
  });

  it('dlq discard needs a reason, closes the dead letter and leaves a step in the history', async ({
    namespace,
    bus,
    workflow,
  }) => {
    const work = buildWorkItem('markActive', { gitRef: 'release/gone' });
    await workflow.publish(work);
    await waitFor(workflow.reaches(work.workId, 'failed'), { what: 'dead-lettered' });

    const noReason = await patchctl(['dlq', 'discard', '-w', 'gitlab', '--work-id', work.workId, ...at(namespace)]);
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toBe('patchctl: discard needs --reason <text> (it is recorded in the history)\n');
    const stillOpen = JSON.parse((await patchctl(['dlq', 'list', '-w', 'gitlab', '--json', ...at(namespace)])).stdout);
    expect(stillOpen.items.map((i: { workId: string }) => i.workId)).toContain(work.workId);

    const discard = await patchctl([
      'dlq',
      'discard',
      '-w',
      'gitlab',
      '--work-id',
      work.workId,
      '--reason',
      'branch deleted on purpose',
      '--actor',
      'bob',
      '--json',
      ...at(namespace),
    ]);
    expect(discard.code, discard.stderr).toBe(0);
    expect(JSON.parse(discard.stdout)).toEqual([
      { workflow: 'gitlab', workId: work.workId, status: 'discarded', discardedAt: expect.any(String) },
    ]);
    const open = JSON.parse((await patchctl(['dlq', 'list', '-w', 'gitlab', '--json', ...at(namespace)])).stdout);
    expect(open.items.map((i: { workId: string }) => i.workId)).not.toContain(work.workId);
    const closed = JSON.parse(
      (await patchctl(['dlq', 'list', '-w', 'gitlab', '--include-retried', '--json', ...at(namespace)])).stdout,
    );
    expect(closed.items.find((i: { workId: string }) => i.workId === work.workId)).toMatchObject({
      retriedAt: null,
      discarded: { at: expect.any(String), actor: 'bob', reason: 'branch deleted on purpose' },
    });
    await waitFor(
      async () => {
        const reply = await bus.request(actionLogEndpoints.work, { workId: work.workId });
        const steps = reply.ok ? (reply.result.work.executions.find((e) => e.workflow === 'gitlab')?.steps ?? []) : [];
        return steps.some((s) => s.message === 'discarded by bob: branch deleted on purpose');
      },
      { what: 'the discard step in the history' },
    );

    const again = await patchctl([
      'dlq',
      'discard',
      '-w',
      'gitlab',
      '--work-id',
      work.workId,
      '--reason',
      'twice',
      ...at(namespace),
    ]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/no open dead letter for work/);
  });

  it('rebuild action-log replays the streams into the history (no progress text in a pipe) and keeps it the same', async ({
    namespace,
    bus,
    actionLog,
    workflow,
  }) => {
    const work = buildWorkItem('markActive', { gitRef: 'main' });
    await workflow.publish(work);
    await waitFor(workflow.reaches(work.workId, 'succeeded'), { what: 'succeeded' });
    let before: unknown;
    await waitFor(
      async () => {
        const reply = await bus.request(actionLogEndpoints.work, { workId: work.workId });
        before = reply.ok ? reply.result : undefined;
        return reply.ok && reply.result.work.executions.some((e) => e.status === 'succeeded');
      },
      { what: 'projected' },
    );
    const run = await patchctl(['rebuild', 'action-log', '--database-url', actionLog.databaseUrl, '--json', ...at(namespace)]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toBe('');
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({ mode: 'swap', invalid: 0, parked: 0, seconds: expect.any(Number) });
    expect(report.work).toBeGreaterThanOrEqual(1);
    expect(report.events).toBeGreaterThanOrEqual(3);
    const after = await bus.request(actionLogEndpoints.work, { workId: work.workId });
    expect(after.ok && after.result).toEqual(before);

    const text = await patchctl(['rebuild', 'action-log', '--database-url', actionLog.databaseUrl, ...at(namespace)]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^WORK ITEMS +WORKFLOW EVENTS +PARKED +INVALID +RELEASED +SECONDS$/m);
    const unknown = await patchctl(['rebuild', 'patches', ...at(namespace)]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe('patchctl: rebuild: unknown projection "patches" (only action-log)\n');
  });

  it('lifecycle as a table, JSON or Mermaid (no connection needed)', async () => {
    const mermaid = await patchctl(['lifecycle', '--mermaid']);
    expect(mermaid.code).toBe(0);
    expect(mermaid.stdout.split('\n')[0]).toBe('stateDiagram-v2');
    expect(mermaid.stdout).toContain('active --> in_deployment: startDeployment');
    const table = await patchctl(['lifecycle']);
    expect(table.stdout).toMatch(/^ACTION +FROM +TO +ROLES +REQUIRES +WORKFLOWS$/m);
    expect(table.stdout).toMatch(/^cancel +draft \| active \| deployment_failed +cancelled +admin +reason +jira, slack$/m);
    const json = JSON.parse((await patchctl(['lifecycle', '--json'])).stdout);
    expect(json.actions.find((a: { name: string }) => a.name === 'startDeployment').workflows).toEqual([
      'successor',
      'gitlab',
      'jira',
      'slack',
    ]);
  });
});
