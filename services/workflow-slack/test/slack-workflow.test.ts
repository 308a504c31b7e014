import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecutionEvent, StepEvent } from '@patchflow/contracts';
import type { Bus } from '@patchflow/bus';
import {
  buildWorkItem,
  connectTestBus,
  createTestDatabase,
  deleteNamespaceStreams,
  FakeSlack,
  readStream,
  ServiceProcess,
  slackControlSequences,
  testLogLevel,
  testNatsUrl,
  uniqueNamespace,
  waitFor,
  type TestDatabase,
} from '@patchflow/testing';
import { ExecutionStore, type RunningWorkflowService } from '@patchflow/workflow-runtime';
import { startSlackWorkflow } from '../src/index.js';

const fastRetry = { baseDelayMs: 50, maxDelayMs: 500, maxAttempts: 4, ackWaitMs: 2000 };

describe('workflow-slack', () => {
  let db: TestDatabase;
  let slack: FakeSlack;
  let namespace: string;
  let bus: Bus;
  let store: ExecutionStore;
  const services: RunningWorkflowService[] = [];

  const start = async (extra: { webhookUrl?: string | undefined; concurrency?: number; namespace?: string } = {}) => {
    const s = await startSlackWorkflow({
      natsUrl: testNatsUrl(),
      namespace: extra.namespace ?? namespace,
      databaseUrl: db.url,
      logLevel: testLogLevel,
      retry: fastRetry,
      webhookUrl: 'webhookUrl' in extra ? extra.webhookUrl : slack.webhookUrl,
      ...(extra.concurrency ? { concurrency: extra.concurrency } : {}),
    });
    services.push(s);
    return s;
  };
  const publish = (b: Bus, work: ReturnType<typeof buildWorkItem>, msgId = work.workId) =>
    b.publish(b.topology.work(work.transition.action), work, { msgId });
  const executionEvents = async (b: Bus) =>
    (await readStream(b, 'workflowEvents', b.topology.execution('slack'))).map((m) => ExecutionEvent.parse(m.value));
  const succeeded = (workId: string) => async () => (await store.get(workId))?.status === 'succeeded';

  beforeAll(async () => {
    db = await createTestDatabase('wf_slack');
    slack = await FakeSlack.start();
    namespace = uniqueNamespace('slack');
    bus = await connectTestBus(namespace);
    await start();
    store = await ExecutionStore.open(db.url, 'slack', 2);
  });

  afterAll(async () => {
    for (const s of services.reverse()) await s.stop();
    await store?.close();
    await deleteNamespaceStreams(bus);
    await bus?.drain();
    await slack?.close();
    await db?.drop();
  });

  it('posts a transition with blocks naming the patch, from → to, action and actor, and logs the step', async () => {
    const work = buildWorkItem('startDeployment', { name: '2026.48.1', product: 'payments' }, 'carol');
    await publish(bus, work);
    await waitFor(succeeded(work.workId), { what: 'slack execution succeeded' });
    const post = slack.posts.find((p) => JSON.stringify(p).includes(work.workId));
    expect(post?.text).toBe('payments 2026.48.1: Active → In deployment (Start deployment by carol)');
    const blocks = JSON.stringify(post?.blocks);
    for (const s of ['payments 2026.48.1', 'Active → In deployment', 'startDeployment', 'carol']) expect(blocks).toContain(s);
    const events = (await executionEvents(bus)).filter((e) => e.workId === work.workId);
    expect(events.map((e) => e.status)).toEqual(['running', 'succeeded']);
    const steps = (await readStream(bus, 'workflowEvents', bus.topology.step('slack')))
      .map((m) => StepEvent.parse(m.value))
      .filter((e) => e.workId === work.workId);
    expect(steps.map((s) => s.subactionType)).toEqual(['patch.workflow.startDeployment.notifySlack']);
  });

  it('escapes a hostile patch name and actor: Slack receives no mention or link of theirs', async () => {
    const work = buildWorkItem('markActive', { name: '<!channel> 1', product: 'payments' }, '<@U0ADMIN> & co');
    await publish(bus, work);
    await waitFor(succeeded(work.workId), { what: 'slack execution succeeded' });
    const post = slack.posts.find((p) => JSON.stringify(p).includes(work.workId))!;
    expect(post.text).toBe('payments &lt;!channel&gt; 1: Draft → Active (Mark active by &lt;@U0ADMIN&gt; &amp; co)');
    expect(slackControlSequences(post)).toEqual([]);
    // The plain_text header is shown literally by Slack: the raw name, not escaped twice.
    expect(JSON.stringify(post.blocks)).toContain('{"type":"plain_text","text":"payments <!channel> 1","emoji":false}');
  });

  it('honours 429 Retry-After and 5xx, then posts exactly once; a replay is skipped', async () => {
    slack.inject({ status: 429, retryAfterSeconds: 1, body: 'rate_limited' }, { status: 503 });
    const work = buildWorkItem('markActive');
    await publish(bus, work);
    await waitFor(succeeded(work.workId), { what: 'slack execution succeeded after faults' });
    const events = (await executionEvents(bus)).filter((e) => e.workId === work.workId);
    expect(events.filter((e) => e.status === 'failed' && e.willRetry)).toHaveLength(2);
    expect(events.find((e) => e.status === 'failed')?.error).toMatch(/HTTP 429/);
    // Replay of the same work item (a new message id, as an outbox re-publish after the window).
    await publish(bus, work, `${work.workId}:replay`);
    await waitFor(async () => (await executionEvents(bus)).some((e) => e.workId === work.workId && e.status === 'skipped'), {
      what: 'replay skipped',
    });
    expect(slack.posts.filter((p) => JSON.stringify(p).includes(work.workId))).toHaveLength(1);
    expect((await store.get(work.workId))?.attempts).toBe(3);
  });

  it('terminates poison messages without stalling the ones behind them', async () => {
    const subject = bus.topology.work('close');
    await bus.js.publish(subject, new TextEncoder().encode('{not json'));
    await bus.js.publish(subject, new TextEncoder().encode(JSON.stringify({ workId: 'nope' })));
    // Valid item on the wrong subject: refused, not executed.
    const misrouted = buildWorkItem('cancel');
    await bus.publish(subject, misrouted, { msgId: misrouted.workId });
    const valid = Array.from({ length: 5 }, () => buildWorkItem('close'));
    for (const w of valid) await publish(bus, w);
    for (const w of valid) await waitFor(succeeded(w.workId), { what: 'valid item behind poison handled' });
    expect(await store.get(misrouted.workId)).toBeUndefined();
    const c = await bus.jsm.consumers.info(bus.topology.streams.work.name, 'workflow-slack');
    await waitFor(async () => (await bus.jsm.consumers.info(bus.topology.streams.work.name, 'workflow-slack')).num_ack_pending === 0, {
      what: 'nothing pending',
    });
    expect(c.num_redelivered).toBe(0);
  });

  it('skips with "not configured" when no webhook is set, and succeeds', async () => {
    const ns = uniqueNamespace('slacknc');
    const otherBus = await connectTestBus(ns);
    try {
      await start({ namespace: ns, webhookUrl: undefined });
      const work = buildWorkItem('cancel');
      await publish(otherBus, work);
      await waitFor(succeeded(work.workId), { what: 'not configured → succeeded' });
      const steps = (await readStream(otherBus, 'workflowEvents', otherBus.topology.step('slack'))).map((m) => StepEvent.parse(m.value));
      expect(steps.find((s) => s.workId === work.workId)?.message).toMatch(/skipped: not configured/);
      expect((await executionEvents(otherBus)).find((e) => e.workId === work.workId && e.status !== 'running')?.status).toBe('skipped');
    } finally {
      await deleteNamespaceStreams(otherBus);
      await otherBus.drain();
    }
  });

  it('two instances share the work: each item is executed once, by one of them', async () => {
    const first = services[0]!;
    const second = await start({ concurrency: 2 });
    const before = [first.runtime.stats.executed, second.runtime.stats.executed] as const;
    const items = Array.from({ length: 24 }, () => buildWorkItem('completeDeployment'));
    slack.inject(...items.map(() => ({ delayMs: 30 })));
    await Promise.all(items.map((w) => publish(bus, w)));
    for (const w of items) await waitFor(succeeded(w.workId), { what: `item ${w.workId}` });
    const ran = [first.runtime.stats.executed - before[0], second.runtime.stats.executed - before[1]];
    expect(ran[0]! + ran[1]!).toBe(items.length);
    expect(ran[0]).toBeGreaterThan(0);
    expect(ran[1]).toBeGreaterThan(0);
    for (const w of items) {
      expect(slack.posts.filter((p) => JSON.stringify(p).includes(w.workId))).toHaveLength(1);
      expect((await store.get(w.workId))?.attempts).toBe(1);
    }
  });

  it('a step longer than the ack wait is kept alive (working()) and runs once', async () => {
    const first = services[0]!;
    const executed = first.runtime.stats.executed + (services[1]?.runtime.stats.executed ?? 0);
    const deliveries = async () => (await bus.jsm.consumers.info(bus.topology.streams.work.name, 'workflow-slack')).delivered.consumer_seq;
    const before = await deliveries();
    slack.inject({ delayMs: 5000 }); // ack wait is 2000 ms
    const work = buildWorkItem('close');
    await publish(bus, work);
    await waitFor(succeeded(work.workId), { timeoutMs: 20_000, what: 'long step done' });
    expect((await store.get(work.workId))?.attempts).toBe(1);
    expect(first.runtime.stats.executed + (services[1]?.runtime.stats.executed ?? 0)).toBe(executed + 1);
    // One delivery: without the heartbeat JetStream would have redelivered it after 2 s.
    expect((await deliveries()) - before).toBe(1);
  });

  /** Environment for workflow-slack as its own process, talking to the fake Slack; calls may hang. */
  const processEnv = (ns: string, extra: Record<string, string>) => ({
    NATS_URL: testNatsUrl(),
    BUS_NAMESPACE: ns,
    WORKFLOW_DATABASE_URL: db.url,
    SLACK_WEBHOOK_URL: slack.webhookUrl,
    HTTP_TIMEOUT_MS: '60000',
    ...extra,
  });

  it('SIGKILL of a workflow process mid-execution: the work is redelivered and completes', async () => {
    const ns = uniqueNamespace('slackkill');
    const otherBus = await connectTestBus(ns);
    const env = processEnv(ns, { WORKFLOW_ACK_WAIT_MS: '1500' });
    const victim = ServiceProcess.start('services/workflow-slack/src/main.ts', env);
    let survivor: ServiceProcess | undefined;
    try {
      await victim.waitForLog(/workflow-slack started/);
      const callsBefore = slack.calls.length;
      slack.inject({ hang: true });
      const work = buildWorkItem('failDeployment');
      await publish(otherBus, work);
      await waitFor(() => slack.calls.length > callsBefore, { what: 'the victim calls Slack (and hangs)' });
      expect((await store.get(work.workId))?.status).toBe('running');
      await victim.stop('SIGKILL');
      survivor = ServiceProcess.start('services/workflow-slack/src/main.ts', env);
      await waitFor(succeeded(work.workId), { timeoutMs: 20_000, what: 'redelivered work completes' });
      const row = await store.get(work.workId);
      expect(row?.attempts).toBe(2);
      expect(slack.posts.filter((p) => JSON.stringify(p).includes(work.workId))).toHaveLength(1);
      expect(victim.logs).not.toContain(slack.webhookPath);
      expect(survivor.logs).not.toContain(slack.webhookPath);
    } finally {
      victim.kill('SIGKILL');
      await survivor?.stop();
      await deleteNamespaceStreams(otherBus);
      await otherBus.drain();
    }
  });

  it('SIGTERM mid-execution: the process exits cleanly and hands the work back at once', async () => {
    const ns = uniqueNamespace('slackterm');
    const otherBus = await connectTestBus(ns);
    // A long ack wait: only a nak on shutdown, not the ack-wait expiry, can hand the work over
    // before the survivor's wait below runs out.
    const env = processEnv(ns, { WORKFLOW_ACK_WAIT_MS: '120000', WORKFLOW_SHUTDOWN_GRACE_MS: '300' });
    const stopping = ServiceProcess.start('services/workflow-slack/src/main.ts', env);
    let survivor: ServiceProcess | undefined;
    try {
      await stopping.waitForLog(/workflow-slack started/);
      const callsBefore = slack.calls.length;
      slack.inject({ hang: true });
      const work = buildWorkItem('completeDeployment');
      await publish(otherBus, work);
      await waitFor(() => slack.calls.length > callsBefore, { what: 'the first process calls Slack (and hangs)' });
      expect(await stopping.stop('SIGTERM')).toBe(0);
      // The lease is released with the nak, so the next instance may claim the item at once.
      survivor = ServiceProcess.start('services/workflow-slack/src/main.ts', env);
      await waitFor(succeeded(work.workId), { timeoutMs: 60_000, what: 'the handed-back work completes elsewhere' });
      expect(slack.posts.filter((p) => JSON.stringify(p).includes(work.workId))).toHaveLength(1);
      expect(stopping.logs).toMatch(/shutting down/);
    } finally {
      stopping.kill('SIGKILL');
      await survivor?.stop();
      await deleteNamespaceStreams(otherBus);
      await otherBus.drain();
    }
  });
});
