import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { actionLogEndpoints, type WorkItem } from '@patchflow/contracts';
import { repoRoot, testLogLevel, testNatsUrl, waitFor } from '@patchflow/testing';
import { createLogger } from '@patchflow/log';
import { rebuildActionLog } from '../src/index.js';
import { actionLogUnderTest, execution, step, workItem } from './fixtures.js';

const execFileAsync = promisify(execFile);

const actionLog = actionLogUnderTest({ database: 'action_log', namespace: 'alog' });
const { pings, publishWork, publishEvent } = actionLog;

const patchId = randomUUID();
let markActive: WorkItem;
let startDeployment: WorkItem;

/** Every message both durable consumers received is settled (applied, or terminated). */
async function idle(): Promise<void> {
  const defs = actionLog.bus.topology.actionLogConsumers();
  await waitFor(
    async () => {
      for (const def of [defs.work, defs.events]) {
        const info = await actionLog.bus.admin.consumerInfo(def.stream, def.durableName);
        if (info.pending > 0 || info.ackPending > 0) return false;
      }
      return true;
    },
    { what: 'the durable consumers to be idle' },
  );
}

describe('action-log projection', () => {
  it('converges on the history whatever order and however often events arrive', async () => {
    markActive = workItem(patchId, 'markActive', 'draft', 'active', 2);
    startDeployment = workItem(patchId, 'startDeployment', 'active', 'in_deployment', 3);

    // The successor's step overtakes its work item.
    const created = step(startDeployment, 'successor', 'createSuccessor');
    await publishEvent(execution(startDeployment, 'successor', 'running'));
    await publishEvent(created);
    await publishWork(markActive);
    await publishEvent(execution(markActive, 'gitlab', 'running', 1));
    await publishEvent(step(markActive, 'gitlab', 'triggerPipeline', 1));
    await publishEvent(execution(markActive, 'gitlab', 'failed', 1, { error: 'GitLab answered 502', willRetry: true }));
    await publishEvent(execution(markActive, 'gitlab', 'running', 2));
    await publishEvent(step(markActive, 'gitlab', 'triggerPipeline', 2));
    await publishEvent(execution(markActive, 'gitlab', 'succeeded', 2));
    await publishEvent(execution(markActive, 'jira', 'running'));
    await publishEvent(execution(markActive, 'jira', 'succeeded'));
    await publishEvent(execution(markActive, 'slack', 'skipped'));
    // A poison message must not block what follows.
    await actionLog.bus.publish(actionLog.bus.topology.step('slack'), { kind: 'step', eventId: 'not-a-uuid' });
    await publishWork(startDeployment);
    // Published twice (a workflow retrying its publish): stored twice in the stream, once here.
    await publishEvent(created);
    await publishEvent(execution(startDeployment, 'successor', 'succeeded'));

    await idle();
    const history = await actionLog.bus.call(actionLogEndpoints.history, { patchId });
    expect(history.entries.map((e) => e.transition?.action)).toEqual(['markActive', 'startDeployment']);
    const [first, second] = history.entries;
    expect(first?.executions.map((e) => [e.workflow, e.status, e.attempts])).toEqual([
      ['gitlab', 'succeeded', 2],
      ['jira', 'succeeded', 1],
      ['slack', 'skipped', 1],
    ]);
    const gitlab = first?.executions[0];
    expect(gitlab?.lastError).toBe('GitLab answered 502');
    expect(gitlab?.steps.map((s) => s.attempt)).toEqual([1, 2]);
    expect(second?.executions.map((e) => [e.workflow, e.status])).toEqual([
      ['successor', 'succeeded'],
      ['gitlab', 'pending'],
      ['jira', 'pending'],
      ['slack', 'pending'],
    ]);
    expect(second?.executions[0]?.steps.map((s) => s.subactionType)).toEqual(['patch.workflow.startDeployment.createSuccessor']);
    // One ping per work item and batch (coalescePings): the step's, or the outcome's when they shared a batch.
    await waitFor(
      () => pings.some((p) => p.patchId === patchId && p.workId === startDeployment.workId && p.workflow === 'successor'),
      {
        what: "a live-update ping for the successor's step or outcome",
      },
    );
  });

  it('answers one work item, and not_found / validation_failed for bad requests', async () => {
    const { work } = await actionLog.bus.call(actionLogEndpoints.work, { workId: markActive.workId });
    expect(work.transition?.id).toBe(markActive.transition.id);
    expect(work.workflows).toEqual(['gitlab', 'jira', 'slack']);

    const missing = await actionLog.bus.request(actionLogEndpoints.work, { workId: randomUUID() });
    expect(missing).toMatchObject({ ok: false, error: { code: 'not_found' } });

    const invalid = await actionLog.bus.requestRaw(
      actionLog.bus.topology.subjects.actionLogWork,
      new TextEncoder().encode('{"workId":"x"}'),
    );
    expect(invalid).toMatchObject({ ok: false, error: { code: 'validation_failed', details: { fields: [{ path: 'workId' }] } } });
    const notJson = await actionLog.bus.requestRaw(
      actionLog.bus.topology.subjects.actionLogHistory,
      new TextEncoder().encode('{'),
    );
    expect(notJson).toMatchObject({ ok: false, error: { code: 'validation_failed' } });
  });

  it('pages a history by transition', async () => {
    const page1 = await actionLog.bus.call(actionLogEndpoints.history, { patchId, limit: 1 });
    expect(page1.entries.map((e) => e.workId)).toEqual([markActive.workId]);
    expect(page1.nextCursor).not.toBeNull();
    const page2 = await actionLog.bus.call(actionLogEndpoints.history, { patchId, limit: 1, cursor: page1.nextCursor ?? '' });
    expect(page2.entries.map((e) => e.workId)).toEqual([startDeployment.workId]);
    expect(page2.nextCursor).toBeNull();
    const bad = await actionLog.bus.request(actionLogEndpoints.history, { patchId, cursor: 'nonsense' });
    expect(bad).toMatchObject({ ok: false, error: { code: 'validation_failed', details: { fields: [{ path: 'cursor' }] } } });
  });
});

describe('rebuild', () => {
  async function dump(): Promise<Record<string, unknown[]>> {
    const em = actionLog.service.orm.em.fork();
    const keys: Record<string, string> = {
      action_log_work: 'work_id',
      action_log_execution: 'work_id, workflow',
      action_log_execution_event: 'event_id',
      action_log_step: 'event_id',
    };
    const out: Record<string, unknown[]> = {};
    for (const [table, key] of Object.entries(keys)) out[table] = await em.execute(`select * from ${table} order by ${key}`);
    return out;
  }

  it('drops the tables, replays the streams and gets exactly the same contents', async () => {
    await idle();
    const before = await dump();
    const historyBefore = await actionLog.bus.call(actionLogEndpoints.history, { patchId });
    expect(before.action_log_step).toHaveLength(3);

    const progress: string[] = [];
    const report = await rebuildActionLog({
      orm: actionLog.service.orm,
      bus: actionLog.bus,
      logger: createLogger('rebuild-test', testLogLevel),
      dropTables: true,
      onProgress: (p) => progress.push(`${p.stream} ${p.done}/${p.total}`),
    });
    // The poison step is parked again (same row), nothing parked before applies now.
    expect(report).toEqual({ work: 2, events: 14, invalid: 1, parked: 1, released: 0 });
    expect(progress.at(-1)).toMatch(/ 14\/14$/);
    expect(await dump()).toEqual(before);
    expect(await actionLog.bus.call(actionLogEndpoints.history, { patchId })).toEqual(historyBefore);
  });

  it('does the same from the command line (patchctl rebuild action-log)', async () => {
    const before = await dump();
    const cli = await execFileAsync(process.execPath, ['tools/patchctl/bin/patchctl.mjs', 'rebuild', 'action-log', '--json'], {
      cwd: repoRoot,
      env: {
        ...process.env,
        ACTION_LOG_DATABASE_URL: actionLog.db.url,
        NATS_URL: testNatsUrl(),
        BUS_NAMESPACE: actionLog.bus.topology.namespace,
      },
    });
    expect(JSON.parse(cli.stdout)).toMatchObject({ work: 2, events: 14, parked: 1, invalid: 1, released: 0 });
    expect(await dump()).toEqual(before);

    const help = await execFileAsync(process.execPath, ['tools/patchctl/bin/patchctl.mjs', 'rebuild', '--help'], {
      cwd: repoRoot,
      env: { ...process.env, NATS_URL: 'nats://127.0.0.1:1' },
    });
    expect(help.stdout).toMatch(/^Usage: patchctl rebuild /);
  });
});
