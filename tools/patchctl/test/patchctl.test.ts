import { describe, expect } from 'vitest';
import { buildWorkItem, createTestDatabase, freePort, ServiceProcess, testNatsUrl, waitFor } from '@patchflow/testing';
import { at, gitlabWorkflowTest, patchctl, pipelinesFor } from './fixtures.js';

const it = gitlabWorkflowTest('patchctl', 3)
  // patch-status as its own process in the file's namespace: the outbox and a health port.
  .extend('patchStatus', { scope: 'file' }, async ({ namespace }, { onCleanup }) => {
    const [db, healthPort] = await Promise.all([createTestDatabase('patchctl_ps'), freePort()]);
    const proc = ServiceProcess.start('services/patch-status/src/main.ts', {
      NATS_URL: testNatsUrl(),
      BUS_NAMESPACE: namespace,
      DATABASE_URL: db.url,
      HEALTH_PORT: String(healthPort),
    });
    onCleanup(async () => {
      await proc.stop();
      await db.drop();
    });
    await proc.waitForLog(/patch-status ready/, 110_000);
    return { databaseUrl: db.url, healthPort };
  });

describe('patchctl', () => {
  it('status shows the streams, the durable consumers, dead letters per workflow, the outbox and service health', async ({
    namespace,
    workflow,
    patchStatus,
  }) => {
    const work = buildWorkItem('startDeployment', { gitRef: 'release/status' });
    await workflow.publish(work);
    await waitFor(workflow.reaches(work.workId, 'failed'), { what: 'dead-lettered' });
    const common = [
      ...at(namespace),
      '--database-url',
      patchStatus.databaseUrl,
      '--health',
      `patch-status=${patchStatus.healthPort}`,
    ];

    const run = await patchctl(['status', ...common, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout);
    const ns = namespace.toUpperCase();
    expect(report.streams.find((s: { stream: string }) => s.stream === `${ns}_PATCHFLOW_WORK`)).toMatchObject({
      messages: expect.any(Number),
      lastSeq: expect.any(Number),
    });
    expect(report.streams.find((s: { stream: string }) => s.stream === `${ns}_PATCHFLOW_WORK`).messages).toBeGreaterThanOrEqual(
      1,
    );
    expect(report.streams.map((s: { stream: string }) => s.stream).sort()).toEqual([
      `${ns}_PATCHFLOW_DEAD_LETTERS`,
      `${ns}_PATCHFLOW_WORK`,
      `${ns}_PATCHFLOW_WORKFLOW_EVENTS`,
    ]);
    expect(report.consumers).toContainEqual(
      expect.objectContaining({
        stream: `${ns}_PATCHFLOW_WORK`,
        durable: 'workflow-gitlab',
        pending: 0,
        ackPending: 0,
        redelivered: expect.any(Number),
        lastActive: expect.any(String),
      }),
    );
    const byWorkflow = Object.fromEntries(report.deadLetters.map((d: { workflow: string }) => [d.workflow, d]));
    expect(byWorkflow.gitlab).toMatchObject({ open: 1, replyMs: expect.any(Number) });
    // Only the gitlab workflow runs in this namespace: the others are named as not answering.
    expect(byWorkflow.jira).toMatchObject({ open: null, error: expect.stringMatching(/no service answers/) });
    expect(report.outbox).toEqual({ backlog: 0, oldest: null });
    expect(report.services).toEqual([
      { service: 'patch-status', url: `http://127.0.0.1:${patchStatus.healthPort}`, state: 'ready' },
    ]);
    // Instances: patch-status's process and the gitlab workflow running in this test process answer the ping.
    expect(report.instances.instances.map((i: { service: string; pid: number }) => [i.service, i.pid])).toEqual([
      ['patch-status', expect.any(Number)],
      ['workflow-gitlab', process.pid],
    ]);
    expect([...report.instances.missing].sort()).toEqual([
      'action-log',
      'gateway',
      'workflow-jira',
      'workflow-slack',
      'workflow-successor',
    ]);

    const text = await patchctl(['status', ...common]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^STREAM +MESSAGES +BYTES +FIRST SEQ +LAST SEQ/m);
    expect(text.stdout).toMatch(/^STREAM +CONSUMER +PENDING +ACK PENDING +REDELIVERED +LAST ACTIVE/m);
    expect(text.stdout).toMatch(/^gitlab +1 /m);
    expect(text.stdout).toMatch(/^BACKLOG/m);
    expect(text.stdout).toMatch(/^SERVICE +INSTANCE +HOST +PID +VERSION +UP +NATS NAME$/m);
    expect(text.stdout).toMatch(/^workflow-gitlab +[0-9a-f]{8} /m);
    expect(text.stdout).toContain('warning: no instance answering: gateway, action-log');

    const failing = await patchctl(['status', ...common, '--fail-on-dlq']);
    expect(failing.code).toBe(1);
    expect(failing.stderr.trim()).toMatch(/^patchctl: \d+ open dead letter\(s\)$/);
  });

  it('dlq list and show; retry with backoff reports per item: 4xx first, fixed on the next round', async ({
    namespace,
    remote: gitlab,
    store,
    workflow,
  }) => {
    const ns = at(namespace);
    const work = buildWorkItem('markActive', { gitRef: 'release/retry' });
    const stuck = buildWorkItem('markActive', { gitRef: 'release/never' });
    await workflow.publish(work);
    await workflow.publish(stuck);
    await waitFor(workflow.reaches(work.workId, 'failed'), { what: 'dead-lettered' });
    await waitFor(workflow.reaches(stuck.workId, 'failed'), { what: 'dead-lettered' });

    const list = await patchctl(['dlq', 'list', '--workflow', 'gitlab', '--json', ...ns]);
    expect(list.code, list.stderr).toBe(0);
    const listed = JSON.parse(list.stdout);
    expect(listed.unanswered).toEqual([]);
    expect(listed.items.map((i: { workId: string }) => i.workId)).toEqual(expect.arrayContaining([work.workId, stuck.workId]));
    const table = await patchctl(['dlq', 'list', '-w', 'gitlab', ...ns]);
    expect(table.stdout.split('\n')[0]).toMatch(
      /^WORKFLOW +WORK ID +ACTION +PATCH +ATTEMPTS +RETRIES +DEAD-LETTERED +RETRIED +REASON$/,
    );
    expect(table.stdout).toContain(work.workId);

    const show = await patchctl(['dlq', 'show', work.workId, '--json', ...ns, '-w', 'gitlab']);
    expect(show.code, show.stderr).toBe(0);
    expect(JSON.parse(show.stdout)).toEqual([
      expect.objectContaining({ workId: work.workId, retriedAt: null, reason: expect.stringMatching(/Reference not found/) }),
    ]);

    // The operator creates the branch, but GitLab still refuses the first call (a 4xx): the
    // first round fails, the second (after the backoff) succeeds. One pipeline in the end.
    gitlab.addRef('release/retry');
    gitlab.inject({ status: 400, body: { message: 'still provisioning' } });
    const retry = await patchctl([
      'dlq',
      'retry',
      '--workflow',
      'gitlab',
      '--work-id',
      work.workId,
      '--attempts',
      '3',
      '--backoff',
      '300ms',
      '--json',
      ...ns,
    ]);
    expect(retry.code, retry.stderr).toBe(0);
    expect(JSON.parse(retry.stdout)).toEqual([{ workflow: 'gitlab', workId: work.workId, status: 'succeeded', tries: 2 }]);
    expect(pipelinesFor(gitlab, work.patch.id)).toHaveLength(1);
    expect(await store.get(work.workId)).toMatchObject({ status: 'succeeded' });

    // Still broken after every round: reported per item, exit 1.
    const all = await patchctl(['dlq', 'retry', '--workflow', 'gitlab', '--all', '--attempts', '2', '--backoff', '100ms', ...ns]);
    expect(all.code).toBe(1);
    expect(all.stdout).toMatch(/^WORKFLOW +WORK ID +RESULT +TRIES +ERROR/m);
    expect(all.stdout).toMatch(new RegExp(`^gitlab +${stuck.workId} +failed +2 `, 'm'));
    expect(all.stderr).toMatch(/still failing after 2 round\(s\)/);
    expect(all.stderr).toMatch(/round 1: \d+ still failing; next round in 0\.1s/);

    // The retried item now shows as closed, and a show of an unknown id is a finding (exit 1).
    const closed = JSON.parse((await patchctl(['dlq', 'list', '-w', 'gitlab', '--include-retried', '--json', ...ns])).stdout);
    expect(closed.items.find((i: { workId: string }) => i.workId === work.workId)).toMatchObject({
      retriedAt: expect.any(String),
      retries: 2,
    });
    const missing = await patchctl(['dlq', 'show', '00000000-0000-4000-8000-000000000000', '-w', 'gitlab', ...ns]);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('replay --dry-run lists work by range and what would happen in each routed workflow', async ({
    namespace,
    db,
    workflow,
  }) => {
    const done = buildWorkItem('markActive');
    await workflow.publish(done);
    await waitFor(workflow.reaches(done.workId, 'succeeded'), { what: 'succeeded' });
    const run = await patchctl([
      'replay',
      '--dry-run',
      '--patch',
      done.patch.id,
      '--json',
      ...at(namespace),
      '--workflow-database-url',
      db.url,
    ]);
    expect(run.code, run.stderr).toBe(0);
    const plan = JSON.parse(run.stdout);
    const decisions = Object.fromEntries(plan.items.map((i: { workflow: string; decision: string }) => [i.workflow, i.decision]));
    // markActive is routed to gitlab, jira and slack; gitlab already did it.
    expect(decisions).toEqual({ gitlab: 'skip: already succeeded', jira: 'run', slack: 'run' });
    const one = await patchctl([
      'replay',
      '--dry-run',
      '--patch',
      done.patch.id,
      '--workflow',
      'successor',
      '--json',
      ...at(namespace),
      '--workflow-database-url',
      db.url,
    ]);
    expect(JSON.parse(one.stdout).items).toEqual([
      expect.objectContaining({ workId: done.workId, workflow: 'successor', decision: 'skip: not routed' }),
    ]);
    const bySeq = await patchctl([
      'replay',
      '--dry-run',
      '--from-seq',
      '1',
      '--to-seq',
      '1',
      '--action',
      'markActive',
      '--json',
      ...at(namespace),
      '--workflow-database-url',
      db.url,
    ]);
    expect(bySeq.code, bySeq.stderr).toBe(0);
    expect(JSON.parse(bySeq.stdout).items.every((i: { seq: number }) => i.seq === 1)).toBe(true);
  });

  it('usage and connection errors: one line on stderr, exit 2, JSON on stdout with --json', async ({ namespace }) => {
    const unknown = await patchctl(['dlq', 'list', '--workflow', 'jenkins', '--namespace', namespace]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe('patchctl: unknown workflow "jenkins" (one of successor, gitlab, jira, slack)\n');

    const port = await freePort();
    const down = await patchctl(['status', '--json', '--health', 'none', '--nats-url', `nats://127.0.0.1:${port}`]);
    expect(down.code).toBe(2);
    expect(down.stderr.trim().split('\n')).toHaveLength(1);
    expect(down.stderr).toMatch(/^patchctl: NATS is not reachable at nats:\/\/127\.0\.0\.1:\d+/);
    expect(JSON.parse(down.stdout)).toEqual({
      error: { code: 'unreachable', message: expect.stringMatching(/NATS is not reachable/) },
    });

    const range = await patchctl(['replay', '--dry-run', '--from-seq', '9', '--to-seq', '3', '--namespace', namespace]);
    expect(range.code).toBe(2);
    expect(range.stderr).toBe('patchctl: bad range: --from-seq 9 is after --to-seq 3\n');
    const since = await patchctl(['replay', '--dry-run', '--since', 'yesterday-ish']);
    expect(since.code).toBe(2);
    expect(since.stderr.trim().split('\n')).toHaveLength(1);

    const option = await patchctl(['dlq', 'retry', '--workflow', 'gitlab']);
    expect(option.code).toBe(2);
    expect(option.stderr).toBe('patchctl: retry needs either --work-id <uuid> or --all\n');
    const help = await patchctl(['dlq', 'retry', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--backoff <duration>/);
    expect(help.stdout).toMatch(/--json/);
  });
});
