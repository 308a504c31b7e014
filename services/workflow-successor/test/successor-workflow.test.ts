import { describe, expect } from 'vitest';
import { patchEndpoints, WorkItem, type ActionName } from '@patchflow/contracts';
import type { Bus } from '@patchflow/bus';
import { startPatchStatus } from '@patchflow/patch-status';
import {
  createTestDatabase,
  readStream,
  testLogLevel,
  testNatsUrl,
  testPool,
  uniqueSuffix,
  waitFor,
  workflowTest,
  type WorkflowUnderTest,
} from '@patchflow/testing';
import { startSuccessorWorkflow } from '../src/index.js';

const it = workflowTest({
  workflow: 'successor',
  label: 'succ',
  // The successor asks the real patch-status, in its own database and the file's namespace.
  remote: async ({ namespace }) => {
    const db = await createTestDatabase('wf_succ_ps');
    const app = await startPatchStatus({ databaseUrl: db.url, natsUrl: testNatsUrl(), namespace, logLevel: testLogLevel });
    return {
      app,
      async close() {
        await app.stop();
        await db.drop();
      },
    };
  },
  start: ({ remote: _patchStatus, ...at }) =>
    startSuccessorWorkflow({ ...at, retry: { baseDelayMs: 50, maxDelayMs: 400, maxAttempts: 5, ackWaitMs: 2000 } }),
  // Plain SQL on the workflow database: the test also deletes an execution row by hand.
  openStore: async (url) => {
    const sql = testPool(url);
    return {
      sql,
      get: async (workId: string) =>
        (await sql.query<{ status: string }>('SELECT status FROM workflow_execution WHERE work_id = $1', [workId])).rows[0],
      close: () => sql.end(),
    };
  },
  instances: 2,
});

describe('workflow-successor (with the real patch-status)', () => {
  const transition = (client: Bus, patchId: string, action: ActionName, reason?: string) =>
    client.call(patchEndpoints.transition, {
      patchId,
      action,
      actor: { name: 'dora', role: 'admin' },
      ...(reason ? { reason } : {}),
    });
  const workFor = async (client: Bus, patchId: string, action: ActionName) =>
    (await readStream(client, 'work', client.topology.work(action)))
      .map((m) => WorkItem.parse(m.value))
      .filter((w) => w.patch.id === patchId);
  /** The createSuccessor steps of one work item (skips of replays are steps too, left out here). */
  const steps = async (workflow: Pick<WorkflowUnderTest<unknown, unknown>, 'stepEvents'>, workId: string) =>
    (await workflow.stepEvents({ workId })).filter((e) => e.subactionType.endsWith('.createSuccessor'));

  it('startDeployment opens exactly one successor, through replays, duplicates, a lost record and a second deployment', async ({
    bus: client,
    store,
    workflow,
  }) => {
    const product = `pay${uniqueSuffix()}`;
    const { patch } = await client.call(patchEndpoints.create, { name: '2026.48.1', product, actor: 'dora' });
    await transition(client, patch.id, 'markActive');
    await transition(client, patch.id, 'startDeployment');

    const successorId = await waitFor(
      async () => (await client.call(patchEndpoints.get, { id: patch.id })).successorId ?? undefined,
      {
        what: 'successor created',
      },
    );
    const { patch: successor } = await client.call(patchEndpoints.get, { id: successorId });
    expect(successor).toMatchObject({ name: '2026.48.2', product, predecessorId: patch.id, status: 'draft' });

    const [work] = await workFor(client, patch.id, 'startDeployment');
    await waitFor(async () => (await store.get(work!.workId))?.status === 'succeeded', { what: 'execution recorded' });
    expect((await steps(workflow, work!.workId)).map((s) => [s.subactionType, s.message])).toEqual([
      ['patch.workflow.startDeployment.createSuccessor', `created successor ${product} 2026.48.2`],
    ]);

    // Replays of the same work item (new message ids), at once, to two instances: all skipped.
    await Promise.all(
      [1, 2, 3, 4].map((n) =>
        client.publish(client.topology.work('startDeployment'), work, { msgId: `${work!.workId}:replay:${n}` }),
      ),
    );
    await waitFor(
      async () => (await workflow.executionEvents({ workId: work!.workId })).filter((e) => e.status === 'skipped').length === 4,
      {
        what: 'replays skipped',
      },
    );

    // Redelivery after the execution record was lost (crash between create and record): the
    // handler runs again and patch-status answers with the same successor.
    await store.sql.query('DELETE FROM workflow_execution WHERE work_id = $1', [work!.workId]);
    await client.publish(client.topology.work('startDeployment'), work, { msgId: `${work!.workId}:redelivery` });
    await waitFor(async () => (await steps(workflow, work!.workId)).length === 2, { what: 're-executed' });
    expect((await steps(workflow, work!.workId))[1]).toMatchObject({
      message: `successor ${product} 2026.48.2 already existed`,
      metadata: { successorId, replayed: true },
    });

    // A second startDeployment of the same patch is new work, but still one successor.
    await transition(client, patch.id, 'failDeployment', 'smoke tests red');
    await transition(client, patch.id, 'startDeployment');
    const second = await waitFor(
      async () => (await workFor(client, patch.id, 'startDeployment')).find((w) => w.workId !== work!.workId),
      { what: 'second work item' },
    );
    await waitFor(async () => (await store.get(second.workId))?.status === 'succeeded', { what: 'second execution' });
    expect((await steps(workflow, second.workId))[0]?.metadata).toMatchObject({ successorId, replayed: true });

    const { items } = await client.call(patchEndpoints.list, { product });
    expect(items.map((p) => p.name).sort()).toEqual(['2026.48.1', '2026.48.2']);
    const { transitions } = await client.call(patchEndpoints.history, { patchId: successorId });
    expect(transitions).toEqual([]);
    expect(workflow.instances.reduce((n, s) => n + s.runtime.stats.succeeded, 0)).toBe(3);
  });

  it('other actions are acked without an execution', async ({ bus: client, store }) => {
    const { patch } = await client.call(patchEndpoints.create, { name: 'x.1', product: `pay${uniqueSuffix()}`, actor: 'dora' });
    await transition(client, patch.id, 'markActive');
    const [work] = await waitFor(async () => {
      const w = await workFor(client, patch.id, 'markActive');
      return w.length ? w : undefined;
    });
    await waitFor(
      async () => {
        const info = await client.admin.consumerInfo(client.topology.streams.work.name, 'workflow-successor');
        return info.pending === 0 && info.ackPending === 0;
      },
      { what: 'consumer caught up' },
    );
    expect((await store.get(work!.workId))?.status).toBeUndefined();
  });
});
