import { describe, expect } from 'vitest';
import {
  buildWorkItem,
  FakeSlack,
  ServiceProcess,
  slackControlSequences,
  testNatsUrl,
  waitFor,
  workflowTest,
} from '@patchflow/testing';
import { ExecutionStore } from '@patchflow/workflow-runtime';
import { startSlackWorkflow } from '../src/index.js';

const fastRetry = { baseDelayMs: 50, maxDelayMs: 500, maxAttempts: 4, ackWaitMs: 2000 };

const it = workflowTest({
  workflow: 'slack',
  label: 'slack',
  remote: () => FakeSlack.start(),
  start: ({ remote: slack, ...at }, extra: { webhookUrl?: string | undefined; concurrency?: number }) =>
    startSlackWorkflow({
      ...at,
      retry: fastRetry,
      webhookUrl: 'webhookUrl' in extra ? extra.webhookUrl : slack.webhookUrl,
      ...(extra.concurrency ? { concurrency: extra.concurrency } : {}),
    }),
  openStore: (url) => ExecutionStore.open(url, 'slack', 2),
});

describe('workflow-slack', () => {
  it('posts a transition with blocks naming the patch, from → to, action and actor, and logs the step', async ({
    remote: slack,
    workflow,
  }) => {
    const work = buildWorkItem('startDeployment', { name: '2026.48.1', product: 'payments' }, 'carol');
    await workflow.publish(work);
    await waitFor(workflow.reaches(work.workId, 'succeeded'), { what: 'slack execution succeeded' });
    const post = slack.posts.find((p) => JSON.stringify(p).includes(work.workId));
    expect(post?.text).toBe('payments 2026.48.1: Active → In deployment (Start deployment by carol)');
    const blocks = JSON.stringify(post?.blocks);
    for (const s of ['payments 2026.48.1', 'Active → In deployment', 'startDeployment', 'carol']) expect(blocks).toContain(s);
    const events = await workflow.executionEvents({ workId: work.workId });
    // `running` comes only from an execution slower than WORKFLOW_RUNNING_EVENT_DELAY_MS (a busy machine).
    expect(events.map((e) => e.status).filter((s) => s !== 'running')).toEqual(['succeeded']);
    const steps = await workflow.stepEvents({ workId: work.workId });
    expect(steps.map((s) => s.subactionType)).toEqual(['patch.workflow.startDeployment.notifySlack']);
  });

  it('escapes a hostile patch name and actor: Slack receives no mention or link of theirs', async ({
    remote: slack,
    workflow,
  }) => {
    const work = buildWorkItem('markActive', { name: '<!channel> 1', product: 'payments' }, '<@U0ADMIN> & co');
    await workflow.publish(work);
    await waitFor(workflow.reaches(work.workId, 'succeeded'), { what: 'slack execution succeeded' });
    const post = slack.posts.find((p) => JSON.stringify(p).includes(work.workId))!;
    expect(post.text).toBe('payments &lt;!channel&gt; 1: Draft → Active (Mark active by &lt;@U0ADMIN&gt; &amp; co)');
    expect(slackControlSequences(post)).toEqual([]);
    // The plain_text header is shown literally by Slack: the raw name, not escaped twice.
    expect(JSON.stringify(post.blocks)).toContain('{"type":"plain_text","text":"payments <!channel> 1","emoji":false}');
  });

  it('honours 429 Retry-After and 5xx, then posts exactly once; a replay is skipped', async ({
    remote: slack,
    store,
    workflow,
  }) => {
    slack.inject({ status: 429, retryAfterSeconds: 1, body: 'rate_limited' }, { status: 503 });
    const work = buildWorkItem('markActive');
    await workflow.publish(work);
    await waitFor(workflow.reaches(work.workId, 'succeeded'), { what: 'slack execution succeeded after faults' });
    const events = await workflow.executionEvents({ workId: work.workId });
    expect(events.filter((e) => e.status === 'failed' && e.willRetry)).toHaveLength(2);
    expect(events.find((e) => e.status === 'failed')?.error).toMatch(/HTTP 429/);
    // Replay of the same work item (a new message id, as an outbox re-publish after the window).
    await workflow.publish(work, { msgId: `${work.workId}:replay` });
    await waitFor(async () => (await workflow.executionEvents({ workId: work.workId })).some((e) => e.status === 'skipped'), {
      what: 'replay skipped',
    });
    expect(slack.posts.filter((p) => JSON.stringify(p).includes(work.workId))).toHaveLength(1);
    expect((await store.get(work.workId))?.attempts).toBe(3);
  });

  it('terminates poison messages without stalling the ones behind them', async ({ bus, store, workflow }) => {
    const subject = bus.topology.work('close');
    await bus.admin.publishRaw(subject, new TextEncoder().encode('{not json'));
    await bus.admin.publishRaw(subject, new TextEncoder().encode(JSON.stringify({ workId: 'nope' })));
    // Valid item on the wrong subject: refused, not executed.
    const misrouted = buildWorkItem('cancel');
    await bus.publish(subject, misrouted, { msgId: misrouted.workId });
    const valid = Array.from({ length: 5 }, () => buildWorkItem('close'));
    for (const w of valid) await workflow.publish(w);
    for (const w of valid) await waitFor(workflow.reaches(w.workId, 'succeeded'), { what: 'valid item behind poison handled' });
    expect(await store.get(misrouted.workId)).toBeUndefined();
    const c = await bus.admin.consumerInfo(bus.topology.streams.work.name, 'workflow-slack');
    await waitFor(async () => (await bus.admin.consumerInfo(bus.topology.streams.work.name, 'workflow-slack')).ackPending === 0, {
      what: 'nothing pending',
    });
    expect(c.redelivered).toBe(0);
  });

  it('skips with "not configured" when no webhook is set, and succeeds', async ({ workflow }) => {
    const otherBus = await workflow.isolatedBus('slacknc');
    await workflow.start({ namespace: otherBus.topology.namespace, webhookUrl: undefined });
    const work = buildWorkItem('cancel');
    await workflow.publish(work, { bus: otherBus });
    await waitFor(workflow.reaches(work.workId, 'succeeded'), { what: 'not configured → succeeded' });
    const steps = await workflow.stepEvents({ bus: otherBus, workId: work.workId });
    expect(steps[0]?.message).toMatch(/skipped: not configured/);
    expect(
      (await workflow.executionEvents({ bus: otherBus, workId: work.workId })).find((e) => e.status !== 'running')?.status,
    ).toBe('skipped');
  });

  it('two instances share the work: each item is executed once, by one of them', async ({ remote: slack, store, workflow }) => {
    const first = workflow.instances[0]!;
    const second = await workflow.start({ concurrency: 2 });
    const before = [first.runtime.stats.executed, second.runtime.stats.executed] as const;
    const items = Array.from({ length: 24 }, () => buildWorkItem('completeDeployment'));
    slack.inject(...items.map(() => ({ delayMs: 30 })));
    await Promise.all(items.map((w) => workflow.publish(w)));
    for (const w of items) await waitFor(workflow.reaches(w.workId, 'succeeded'), { what: `item ${w.workId}` });
    const ran = [first.runtime.stats.executed - before[0], second.runtime.stats.executed - before[1]];
    expect(ran[0]! + ran[1]!).toBe(items.length);
    expect(ran[0]).toBeGreaterThan(0);
    expect(ran[1]).toBeGreaterThan(0);
    for (const w of items) {
      expect(slack.posts.filter((p) => JSON.stringify(p).includes(w.workId))).toHaveLength(1);
      expect((await store.get(w.workId))?.attempts).toBe(1);
    }
  });

  it('a step longer than the ack wait is kept alive (working()) and runs once', async ({
    remote: slack,
    bus,
    store,
    workflow,
  }) => {
    // Executions by every instance of this file (the item may go to either of the two sharing the work).
    const executedByAll = () => workflow.instances.reduce((n, i) => n + i.runtime.stats.executed, 0);
    const executed = executedByAll();
    const deliveries = async () => (await bus.admin.consumerInfo(bus.topology.streams.work.name, 'workflow-slack')).delivered;
    const before = await deliveries();
    slack.inject({ delayMs: 5000 }); // ack wait is 2000 ms
    const work = buildWorkItem('close');
    await workflow.publish(work);
    await waitFor(workflow.reaches(work.workId, 'succeeded'), { timeoutMs: 20_000, what: 'long step done' });
    expect((await store.get(work.workId))?.attempts).toBe(1);
    expect(executedByAll()).toBe(executed + 1);
    // One delivery: without the heartbeat JetStream would have redelivered it after 2 s.
    expect((await deliveries()) - before).toBe(1);
  });

  /** Environment for workflow-slack as its own process, talking to the fake Slack; calls may hang. */
  const processEnv = (ns: string, databaseUrl: string, slack: FakeSlack, extra: Record<string, string>) => ({
    NATS_URL: testNatsUrl(),
    BUS_NAMESPACE: ns,
    WORKFLOW_DATABASE_URL: databaseUrl,
    ...slack.env,
    HTTP_TIMEOUT_MS: '60000',
    ...extra,
  });

  it('SIGKILL of a workflow process mid-execution: the work is redelivered and completes', async ({
    remote: slack,
    db,
    store,
    workflow,
  }) => {
    const otherBus = await workflow.isolatedBus('slackkill');
    const env = processEnv(otherBus.topology.namespace, db.url, slack, { WORKFLOW_ACK_WAIT_MS: '1500' });
    const victim = ServiceProcess.start('services/workflow-slack/src/main.ts', env);
    let survivor: ServiceProcess | undefined;
    try {
      await victim.waitForLog(/workflow-slack started/);
      const callsBefore = slack.calls.length;
      slack.inject({ hang: true });
      const work = buildWorkItem('failDeployment');
      await workflow.publish(work, { bus: otherBus });
      await waitFor(() => slack.calls.length > callsBefore, { what: 'the victim calls Slack (and hangs)' });
      expect((await store.get(work.workId))?.status).toBe('running');
      await victim.stop('SIGKILL');
      survivor = ServiceProcess.start('services/workflow-slack/src/main.ts', env);
      await waitFor(workflow.reaches(work.workId, 'succeeded'), { timeoutMs: 20_000, what: 'redelivered work completes' });
      const row = await store.get(work.workId);
      expect(row?.attempts).toBe(2);
      expect(slack.posts.filter((p) => JSON.stringify(p).includes(work.workId))).toHaveLength(1);
      expect(victim.logs).not.toContain(slack.webhookPath);
      expect(survivor.logs).not.toContain(slack.webhookPath);
    } finally {
      victim.kill('SIGKILL');
      await survivor?.stop();
    }
  });

  it('SIGTERM mid-execution: the process exits cleanly and hands the work back at once', async ({
    remote: slack,
    db,
    workflow,
  }) => {
    const otherBus = await workflow.isolatedBus('slackterm');
    // A long ack wait: only a nak on shutdown, not the ack-wait expiry, can hand the work over
    // before the survivor's wait below runs out.
    const env = processEnv(otherBus.topology.namespace, db.url, slack, {
      WORKFLOW_ACK_WAIT_MS: '120000',
      WORKFLOW_SHUTDOWN_GRACE_MS: '300',
    });
    const stopping = ServiceProcess.start('services/workflow-slack/src/main.ts', env);
    let survivor: ServiceProcess | undefined;
    try {
      await stopping.waitForLog(/workflow-slack started/);
      const callsBefore = slack.calls.length;
      slack.inject({ hang: true });
      const work = buildWorkItem('completeDeployment');
      await workflow.publish(work, { bus: otherBus });
      await waitFor(() => slack.calls.length > callsBefore, { what: 'the first process calls Slack (and hangs)' });
      expect(await stopping.stop('SIGTERM')).toBe(0);
      // The lease is released with the nak, so the next instance may claim the item at once.
      survivor = ServiceProcess.start('services/workflow-slack/src/main.ts', env);
      await waitFor(workflow.reaches(work.workId, 'succeeded'), {
        timeoutMs: 60_000,
        what: 'the handed-back work completes elsewhere',
      });
      expect(slack.posts.filter((p) => JSON.stringify(p).includes(work.workId))).toHaveLength(1);
      expect(stopping.logs).toMatch(/shutting down/);
    } finally {
      stopping.kill('SIGKILL');
      await survivor?.stop();
    }
  });
});
