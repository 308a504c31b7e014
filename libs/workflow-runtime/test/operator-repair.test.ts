/**
 * The runtime's operator endpoints (src/operator-repair.ts) against real NATS and Postgres, with
 * a scripted handler: what needs attention (failed, stuck, dead letters), retrying one execution
 * (waiting for a redelivery, running elsewhere), a replay by work id alone (the stream sequence
 * recorded at the claim), and a discarded dead letter that a new failure opens again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workflowOpsEndpoints, type WorkItem } from '@patchflow/contracts';
import { buildWorkItem, fileScope, testLogLevel, testNatsUrl, waitFor } from '@patchflow/testing';
import {
  PermanentError,
  routedHandlers,
  startWorkflowService,
  TransientError,
  type RunningWorkflowService,
} from '../src/index.js';

type Behaviour = 'ok' | 'transient' | 'permanent' | 'hang';

const ops = workflowOpsEndpoints('slack');
const behaviour = new Map<string, Behaviour>();
let releaseHang: () => void = () => undefined;
const hang = new Promise<void>((resolve) => (releaseHang = resolve));

const file = fileScope({ database: 'wf_operator', namespace: 'wfops' });
let service: RunningWorkflowService;

beforeAll(async () => {
  service = await startWorkflowService(
    {
      workflow: 'slack',
      natsUrl: testNatsUrl(),
      namespace: file.namespace,
      databaseUrl: file.db.url,
      logLevel: testLogLevel,
      // A failed attempt waits a minute for its redelivery: long enough to be seen as `failed`.
      retry: { baseDelayMs: 60_000, maxDelayMs: 60_000, maxAttempts: 5 },
    },
    () =>
      routedHandlers('slack', {
        async execute({ work }) {
          const b = behaviour.get(work.workId) ?? 'ok';
          if (b === 'transient') throw new TransientError('Slack answered 503');
          if (b === 'permanent') throw new PermanentError('Slack answered 404: channel_not_found');
          if (b === 'hang') await hang;
        },
      }),
  );
});

afterAll(async () => {
  releaseHang();
  await service?.stop();
});

async function publish(work: WorkItem, b: Behaviour): Promise<void> {
  behaviour.set(work.workId, b);
  await file.bus.publish(file.bus.topology.work(work.transition.action), work, { msgId: work.workId });
}

const status = async (workId: string) => (await service.store.get(workId))?.status;
const attention = async (stuckAfterMs = 600_000) => (await file.bus.call(ops.attention, { stuckAfterMs })).items;

describe('operator repair in the runtime', () => {
  it('a failed attempt waiting for its redelivery is `failed` under attention; retrying it now succeeds', async () => {
    const work = buildWorkItem('markActive');
    await publish(work, 'transient');
    await waitFor(async () => (await status(work.workId)) === 'retrying', { what: 'retrying' });
    expect(await attention()).toContainEqual(
      expect.objectContaining({
        kind: 'failed',
        workId: work.workId,
        patchId: work.patch.id,
        patchName: null,
        action: 'markActive',
        workflow: 'slack',
        reason: 'TransientError: Slack answered 503',
      }),
    );
    behaviour.set(work.workId, 'ok');
    const retried = await file.bus.call(ops.retryExecution, { workId: work.workId, actor: 'otto', reason: 'Slack is back' });
    expect(retried).toEqual({ outcome: { workId: work.workId, workflow: 'slack', status: 'succeeded' } });
    expect(await service.store.get(work.workId)).toMatchObject({
      status: 'succeeded',
      attempts: 2,
      operatorActor: 'otto',
      operatorReason: 'Slack is back',
    });
    expect((await attention()).some((i) => i.workId === work.workId)).toBe(false);
    const again = await file.bus.request(ops.retryExecution, { workId: work.workId });
    expect(again.ok ? 'ok' : again.error).toMatchObject({
      code: 'invalid_transition',
      message: expect.stringMatching(/already succeeded/),
    });
  });

  it('an execution running longer than asked is `stuck`; a retry of it is `queued`, not run twice', async () => {
    const work = buildWorkItem('markActive');
    await publish(work, 'hang');
    await waitFor(async () => (await status(work.workId)) === 'running', { what: 'running' });
    await waitFor(async () => (await attention(1000)).some((i) => i.workId === work.workId && i.kind === 'stuck'), {
      what: 'stuck after 1 s',
    });
    expect((await attention(1000)).find((i) => i.workId === work.workId)?.reason).toMatch(/^running for longer than/);
    expect((await attention()).some((i) => i.workId === work.workId)).toBe(false);
    const retried = await file.bus.call(ops.retryExecution, { workId: work.workId });
    expect(retried.outcome.status).toBe('queued');
    expect(await service.store.get(work.workId)).toMatchObject({ status: 'running', attempts: 1 });
  });

  it('a replay by work id alone reads the item where its execution was delivered from', async () => {
    const work = buildWorkItem('startDeployment');
    await publish(work, 'ok');
    await waitFor(async () => (await status(work.workId)) === 'succeeded', { what: 'succeeded' });
    expect((await service.store.get(work.workId))?.workSeq).toEqual(expect.any(Number));
    const plain = await file.bus.call(ops.replay, { items: [{ workId: work.workId }] });
    expect(plain.outcomes).toEqual([{ workId: work.workId, status: 'already_succeeded', detail: expect.any(String) }]);
    const forced = await file.bus.call(ops.replay, {
      items: [{ workId: work.workId }],
      force: true,
      actor: 'ada',
      reason: 'again',
    });
    expect(forced.outcomes).toEqual([{ workId: work.workId, status: 'succeeded', attempt: 2 }]);
    const unknown = await file.bus.call(ops.replay, { items: [{ workId: '00000000-0000-4000-8000-000000000000' }] });
    expect(unknown.outcomes[0]).toMatchObject({ status: 'not_found', detail: expect.stringMatching(/no execution of work/) });
  });

  it('a discarded dead letter leaves the open list; failing again opens it again; bad requests change nothing', async () => {
    const work = buildWorkItem('close');
    await publish(work, 'permanent');
    await waitFor(async () => (await status(work.workId)) === 'failed', { what: 'dead-lettered' });
    expect(await attention()).toContainEqual(
      expect.objectContaining({ kind: 'dead_letter', workId: work.workId, patchName: work.patch.name }),
    );

    const blank = await file.bus.request(ops.discardDeadLetter, { workId: work.workId, actor: 'ops', reason: '  ' });
    expect(blank.ok ? 'ok' : blank.error.code).toBe('validation_failed');
    const unforced = await file.bus.request(ops.replay, { items: [{ workId: work.workId }], force: true, actor: 'ops' });
    expect(unforced.ok ? 'ok' : unforced.error.message).toMatch(/force needs a reason and an actor/);
    expect((await file.bus.call(ops.listDeadLetters, {})).items.map((i) => i.workId)).toContain(work.workId);

    const discarded = await file.bus.call(ops.discardDeadLetter, {
      workId: work.workId,
      actor: 'ops',
      reason: 'channel archived',
    });
    expect(discarded).toEqual({ workId: work.workId, discardedAt: expect.any(String) });
    expect((await file.bus.call(ops.listDeadLetters, {})).items.map((i) => i.workId)).not.toContain(work.workId);
    expect((await attention()).some((i) => i.workId === work.workId)).toBe(false);
    const twice = await file.bus.request(ops.discardDeadLetter, { workId: work.workId, actor: 'ops', reason: 'again' });
    expect(twice.ok ? 'ok' : twice.error.code).toBe('not_found');

    // Replayed (it never succeeded, so no force is needed) and still failing: dead-lettered again, open again.
    const replayed = await file.bus.call(ops.replay, { items: [{ workId: work.workId }] });
    expect(replayed.outcomes[0]).toMatchObject({ status: 'failed', detail: expect.stringMatching(/channel_not_found/) });
    const open = (await file.bus.call(ops.listDeadLetters, {})).items.find((i) => i.workId === work.workId);
    expect(open).toMatchObject({ discarded: null, retriedAt: null });
  });
});
