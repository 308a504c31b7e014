import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { ExecutionEvent, patchEndpoints, StepEvent, WorkItem, type ActionName } from '@patchflow/contracts';
import type { Bus } from '@patchflow/bus';
import { startPatchStatus, type PatchStatusApp } from '@patchflow/patch-status';
import {
  connectTestBus,
  createTestDatabase,
  deleteNamespaceStreams,
  readStream,
  testLogLevel,
  testNatsUrl,
  testPool,
  uniqueNamespace,
  uniqueSuffix,
  waitFor,
  type TestDatabase,
} from '@patchflow/testing';
import type { RunningWorkflowService } from '@patchflow/workflow-runtime';
import { startSuccessorWorkflow } from '../src/index.js';

describe('workflow-successor (with the real patch-status)', () => {
  let patchDb: TestDatabase;
  let workflowDb: TestDatabase;
  let namespace: string;
  let patchStatus: PatchStatusApp;
  let client: Bus;
  let sql: pg.Pool;
  const instances: RunningWorkflowService[] = [];

  const transition = (patchId: string, action: ActionName, reason?: string) =>
    client.call(patchEndpoints.transition, { patchId, action, actor: { name: 'dora', role: 'admin' }, ...(reason ? { reason } : {}) });
  const workFor = async (patchId: string, action: ActionName) =>
    (await readStream(client, 'work', client.topology.work(action))).map((m) => WorkItem.parse(m.value)).filter((w) => w.patch.id === patchId);
  const executions = async (workId: string) =>
    (await readStream(client, 'workflowEvents', client.topology.execution('successor')))
      .map((m) => ExecutionEvent.parse(m.value))
      .filter((e) => e.workId === workId);
  /** The createSuccessor steps of one work item (skips of replays are steps too, left out here). */
  const steps = async (workId: string) =>
    (await readStream(client, 'workflowEvents', client.topology.step('successor')))
      .map((m) => StepEvent.parse(m.value))
      .filter((e) => e.workId === workId && e.subactionType.endsWith('.createSuccessor'));
  const executionStatus = async (workId: string) =>
    (await sql.query<{ status: string }>('SELECT status FROM workflow_execution WHERE work_id = $1', [workId])).rows[0]?.status;

  beforeAll(async () => {
    [patchDb, workflowDb] = await Promise.all([createTestDatabase('wf_succ_ps'), createTestDatabase('wf_succ')]);
    namespace = uniqueNamespace('succ');
    patchStatus = await startPatchStatus({ databaseUrl: patchDb.url, natsUrl: testNatsUrl(), namespace, logLevel: testLogLevel });
    client = await connectTestBus(namespace);
    for (let i = 0; i < 2; i++) {
      instances.push(
        await startSuccessorWorkflow({
          natsUrl: testNatsUrl(),
          namespace,
          databaseUrl: workflowDb.url,
          logLevel: testLogLevel,
          retry: { baseDelayMs: 50, maxDelayMs: 400, maxAttempts: 5, ackWaitMs: 2000 },
        }),
      );
    }
    sql = testPool(workflowDb.url);
  });

  afterAll(async () => {
    for (const s of instances.reverse()) await s.stop();
    await sql?.end();
    await patchStatus?.stop();
    await deleteNamespaceStreams(client);
    await client?.drain();
    await Promise.all([patchDb?.drop(), workflowDb?.drop()]);
  });

  it('startDeployment opens exactly one successor, through replays, duplicates, a lost record and a second deployment', async () => {
    const product = `pay${uniqueSuffix()}`;
    const { patch } = await client.call(patchEndpoints.create, { name: '2026.48.1', product, actor: 'dora' });
    await transition(patch.id, 'markActive');
    await transition(patch.id, 'startDeployment');

    const successorId = await waitFor(async () => (await client.call(patchEndpoints.get, { id: patch.id })).successorId ?? undefined, {
      what: 'successor created',
    });
    const { patch: successor } = await client.call(patchEndpoints.get, { id: successorId });
    expect(successor).toMatchObject({ name: '2026.48.2', product, predecessorId: patch.id, status: 'draft' });

    const [work] = await workFor(patch.id, 'startDeployment');
    await waitFor(async () => (await executionStatus(work!.workId)) === 'succeeded', { what: 'execution recorded' });
    expect((await steps(work!.workId)).map((s) => [s.subactionType, s.message])).toEqual([
      ['patch.workflow.startDeployment.createSuccessor', `created successor ${product} 2026.48.2`],
    ]);

    // Replays of the same work item (new message ids), at once, to two instances: all skipped.
    await Promise.all(
      [1, 2, 3, 4].map((n) => client.publish(client.topology.work('startDeployment'), work, { msgId: `${work!.workId}:replay:${n}` })),
    );
    await waitFor(async () => (await executions(work!.workId)).filter((e) => e.status === 'skipped').length === 4, {
      what: 'replays skipped',
    });

    // Redelivery after the execution record was lost (crash between create and record): the
    // handler runs again and patch-status answers with the same successor.
    await sql.query('DELETE FROM workflow_execution WHERE work_id = $1', [work!.workId]);
    await client.publish(client.topology.work('startDeployment'), work, { msgId: `${work!.workId}:redelivery` });
    await waitFor(async () => (await steps(work!.workId)).length === 2, { what: 're-executed' });
    expect((await steps(work!.workId))[1]).toMatchObject({
      message: `successor ${product} 2026.48.2 already existed`,
      metadata: { successorId, replayed: true },
    });

    // A second startDeployment of the same patch is new work, but still one successor.
    await transition(patch.id, 'failDeployment', 'smoke tests red');
    await transition(patch.id, 'startDeployment');
    const second = await waitFor(
      async () => (await workFor(patch.id, 'startDeployment')).find((w) => w.workId !== work!.workId),
      { what: 'second work item' },
    );
    await waitFor(async () => (await executionStatus(second.workId)) === 'succeeded', { what: 'second execution' });
    expect((await steps(second.workId))[0]?.metadata).toMatchObject({ successorId, replayed: true });

    const { items } = await client.call(patchEndpoints.list, { product });
    expect(items.map((p) => p.name).sort()).toEqual(['2026.48.1', '2026.48.2']);
    const { transitions } = await client.call(patchEndpoints.history, { patchId: successorId });
    expect(transitions).toEqual([]);
    expect(instances.reduce((n, s) => n + s.runtime.stats.succeeded, 0)).toBe(3);
  });

  it('other actions are acked without an execution', async () => {
    const { patch } = await client.call(patchEndpoints.create, { name: 'x.1', product: `pay${uniqueSuffix()}`, actor: 'dora' });
    await transition(patch.id, 'markActive');
    const [work] = await waitFor(async () => {
      const w = await workFor(patch.id, 'markActive');
      return w.length ? w : undefined;
    });
    await waitFor(
      async () => {
        const info = await client.jsm.consumers.info(client.topology.streams.work.name, 'workflow-successor');
        return info.num_pending === 0 && info.num_ack_pending === 0;
      },
      { what: 'consumer caught up' },
    );
    expect(await executionStatus(work!.workId)).toBeUndefined();
  });
});
