/**
 * Every service's `/metrics` on its health port, scraped after real work: all seven services as
 * their own processes (private databases, bus namespace and ports, fake Slack/GitLab/Jira), two
 * transitions and a refused one through the gateway, a live event stream; then each family must
 * be there with the values that work implies.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bus } from '@patchflow/bus';
import { Topology, workflowsFor, type WorkflowName } from '@patchflow/contracts';
import { createLogger } from '@patchflow/log';
import {
  createTestDatabase,
  deleteNamespaceStreams,
  freePort,
  metricValue,
  parseMetrics,
  repoRoot,
  ServiceProcess,
  startFakes,
  systemServices,
  testNatsUrl,
  uniqueNamespace,
  waitFor,
  type MetricSample,
  type RunningFakes,
  type SystemService,
  type TestDatabase,
} from '@patchflow/testing';

const TOKEN = 'metrics-admin-token-0123456789';
const namespace = uniqueNamespace('metrics');
const topology = new Topology(namespace);
const healthPorts = {} as Record<SystemService, number>;
const processes: ServiceProcess[] = [];
const databases: TestDatabase[] = [];
let fakes: RunningFakes | undefined;
let gatewayUrl: string;

async function http(method: string, path: string) {
  const res = await fetch(`${gatewayUrl}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}` } });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- asserted field by field
  return { status: res.status, body: (await res.json()) as any };
}

/** Every metric family any service declared (its `# TYPE` line), over all scrapes. */
const families = new Set<string>();

async function scrape(service: SystemService): Promise<MetricSample[]> {
  const res = await fetch(`http://127.0.0.1:${healthPorts[service]}/metrics`);
  expect(res.status, service).toBe(200);
  const text = await res.text();
  for (const m of text.matchAll(/^# TYPE (\S+) /gm)) families.add(m[1]!);
  return parseMetrics(text);
}

beforeAll(async () => {
  const [patchDb, logDb, workflowDb] = await Promise.all(
    ['metrics_ps', 'metrics_al', 'metrics_wf'].map((l) => createTestDatabase(l)),
  );
  databases.push(patchDb!, logDb!, workflowDb!);
  fakes = await startFakes();
  fakes.jira.addIssue('PAY-48');
  for (const s of systemServices) healthPorts[s] = await freePort();
  const gatewayPort = await freePort();
  gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  const common = { NATS_URL: testNatsUrl(), BUS_NAMESPACE: namespace, LOG_LEVEL: 'warn' };
  const workflow = { ...common, WORKFLOW_DATABASE_URL: workflowDb!.url };
  const env: Record<SystemService, Record<string, string>> = {
    'patch-status': { ...common, DATABASE_URL: patchDb!.url },
    'action-log': { ...common, ACTION_LOG_DATABASE_URL: logDb!.url },
    'workflow-successor': workflow,
    'workflow-gitlab': { ...workflow, ...fakes.gitlab.env },
    'workflow-jira': { ...workflow, ...fakes.jira.env },
    'workflow-slack': { ...workflow, ...fakes.slack.env },
    gateway: { ...common, GATEWAY_PORT: String(gatewayPort), GATEWAY_TOKENS: `admin:admin:${TOKEN}` },
  };
  for (const s of systemServices) {
    processes.push(ServiceProcess.start(`services/${s}/src/main.ts`, { ...env[s], HEALTH_PORT: String(healthPorts[s]) }));
  }
  // Generous: seven cold tsx processes on a loaded 2-core machine can take a minute to start.
  await Promise.all(
    systemServices.map((s) =>
      waitFor(async () => (await fetch(`http://127.0.0.1:${healthPorts[s]}/readyz`).catch(() => undefined))?.status === 200, {
        timeoutMs: 150_000,
        intervalMs: 250,
        what: `${s} ready`,
      }),
    ),
  );
}, 240_000);

afterAll(async () => {
  await Promise.all(processes.map((p) => p.stop('SIGTERM')));
  const bus = await Bus.connect({ url: testNatsUrl(), name: 'test', namespace, logger: createLogger('test', 'silent') });
  await deleteNamespaceStreams(bus);
  await bus.close();
  await Promise.all(databases.map((d) => d.drop()));
  await fakes?.close();
});

describe('GET /metrics on every health port after real work', () => {
  let patchId: string;

  it('runs two transitions through the gateway (all seven executions succeed) and refuses a third', async () => {
    // No body: refused (400), and counted as such.
    expect((await http('POST', '/api/patches')).status).toBe(400);
    const res = await fetch(`${gatewayUrl}/api/patches`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: '2026.48.1', product: 'payments', jiraKey: 'PAY-48' }),
    });
    expect(res.status).toBe(201);
    patchId = ((await res.json()) as { patch: { id: string } }).patch.id;
    expect((await http('POST', `/api/patches/${patchId}/mark-active`)).status).toBe(200);
    expect((await http('POST', `/api/patches/${patchId}/start-deployment`)).status).toBe(200);
    const again = await http('POST', `/api/patches/${patchId}/mark-active`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('invalid_transition');
    await waitFor(
      async () => {
        const h = await http('GET', `/api/patches/${patchId}/history`);
        const executions = h.body.entries.flatMap((t: { executions: { status: string }[] }) => t.executions);
        return executions.length === 7 && executions.every((e: { status: string }) => e.status === 'succeeded');
      },
      { timeoutMs: 60_000, what: 'all seven executions succeeded' },
    );
  });

  it('every service: its process metrics, every sample labelled with its name', async () => {
    for (const s of systemServices) {
      const samples = await scrape(s);
      expect(metricValue(samples, 'process_resident_memory_bytes', { service: s }), s).toBeGreaterThan(0);
      expect(metricValue(samples, 'process_cpu_seconds_total', { service: s }), s).toBeGreaterThan(0);
      expect(metricValue(samples, 'nodejs_eventloop_lag_seconds', { service: s }), s).toBeGreaterThanOrEqual(0);
      expect(samples.filter((m) => m.labels.service !== s).map((m) => m.name)).toEqual([]);
    }
  });

  it('patch-status: transitions by action and outcome, their latency, an empty outbox', async () => {
    const samples = await scrape('patch-status');
    const transitions = (labels: Record<string, string>) => metricValue(samples, 'patchflow_transitions_total', labels);
    expect(transitions({ action: 'markActive', outcome: 'committed' })).toBe(1);
    expect(transitions({ action: 'startDeployment', outcome: 'committed' })).toBe(1);
    expect(transitions({ action: 'markActive', outcome: 'rejected', code: 'invalid_transition' })).toBe(1);
    expect(transitions({ outcome: 'failed' })).toBeUndefined();
    expect(metricValue(samples, 'patchflow_transition_duration_seconds_count', { action: 'markActive' })).toBe(2);
    expect(metricValue(samples, 'patchflow_transition_duration_seconds_sum', { action: 'startDeployment' })).toBeGreaterThan(0);
    // Both work items were published at once: nothing waits in the outbox.
    expect(metricValue(samples, 'patchflow_outbox_backlog_rows')).toBe(0);
    expect(metricValue(samples, 'patchflow_outbox_oldest_unpublished_age_seconds')).toBe(0);
  });

  it('each workflow: its executions by outcome, handler time, delivery attempts and its consumer pending', async () => {
    const routed = (w: WorkflowName) =>
      (['markActive', 'startDeployment'] as const).filter((a) => workflowsFor(a).includes(w)).length;
    for (const workflow of ['gitlab', 'jira', 'slack', 'successor'] as const) {
      const samples = await scrape(`workflow-${workflow}`);
      const expected = routed(workflow);
      expect(expected, workflow).toBeGreaterThan(0);
      expect(metricValue(samples, 'patchflow_workflow_executions_total', { workflow, outcome: 'succeeded' }), workflow).toBe(
        expected,
      );
      expect(metricValue(samples, 'patchflow_workflow_executions_total', { workflow }), workflow).toBe(expected);
      expect(metricValue(samples, 'patchflow_workflow_handler_duration_seconds_count', { workflow }), workflow).toBe(expected);
      expect(metricValue(samples, 'patchflow_workflow_delivery_attempts_bucket', { workflow, le: '1' }), workflow).toBe(expected);
      expect(metricValue(samples, 'patchflow_workflow_dead_letters_total', { workflow }), workflow).toBeUndefined();
      const durable = topology.workflowConsumer(workflow).durableName;
      expect(metricValue(samples, 'patchflow_consumer_pending_messages', { consumer: durable }), workflow).toBe(0);
    }
  });

  it('action-log: messages projected per stream, batch sizes, nothing parked, its consumers pending', async () => {
    // The projection runs behind the executions' events: wait until it has the last of them.
    const stream = (key: 'work' | 'workflowEvents') => topology.streams[key].name;
    let samples: MetricSample[] = [];
    await waitFor(
      async () => {
        samples = await scrape('action-log');
        return metricValue(samples, 'patchflow_action_log_messages_projected_total', { stream: stream('workflowEvents') })! >= 14;
      },
      { timeoutMs: 30_000, what: 'action-log projected the running and succeeded events of seven executions' },
    );
    expect(metricValue(samples, 'patchflow_action_log_messages_projected_total', { stream: stream('work') })).toBe(2);
    expect(metricValue(samples, 'patchflow_action_log_batch_size_count')).toBeGreaterThanOrEqual(1);
    expect(metricValue(samples, 'patchflow_action_log_batch_size_sum')).toBeGreaterThanOrEqual(16);
    expect(metricValue(samples, 'patchflow_action_log_messages_parked_total')).toBeUndefined();
    const { work, events } = topology.actionLogConsumers();
    expect(metricValue(samples, 'patchflow_consumer_pending_messages', { consumer: work.durableName })).toBe(0);
    expect(metricValue(samples, 'patchflow_consumer_pending_messages', { consumer: events.durableName })).toBe(0);
  });

  it('gateway: requests by route pattern and status (never the raw URL), latency, live streams', async () => {
    const live = new AbortController();
    const stream = await fetch(`${gatewayUrl}/api/patches/${patchId}/events`, {
      headers: { authorization: `Bearer ${TOKEN}` },
      signal: live.signal,
    });
    expect(stream.status).toBe(200);
    const samples = await scrape('gateway');
    const requests = (labels: Record<string, string>) => metricValue(samples, 'patchflow_http_requests_total', labels);
    expect(requests({ method: 'POST', route: '/api/patches/:id/mark-active', status: '200' })).toBe(1);
    expect(requests({ method: 'POST', route: '/api/patches/:id/mark-active', status: '409' })).toBe(1);
    expect(requests({ method: 'POST', route: '/api/patches/:id/start-deployment', status: '200' })).toBe(1);
    expect(requests({ method: 'POST', route: '/api/patches', status: '201' })).toBe(1);
    expect(requests({ method: 'POST', route: '/api/patches', status: '400' })).toBe(1);
    expect(requests({ method: 'GET', route: '/api/patches/:id/history' })).toBeGreaterThanOrEqual(1);
    expect(samples.filter((m) => m.labels.route?.includes(patchId))).toEqual([]);
    expect(metricValue(samples, 'patchflow_http_request_duration_seconds_count', { route: '/api/patches/:id/mark-active' })).toBe(
      2,
    );
    expect(metricValue(samples, 'patchflow_gateway_live_streams')).toBe(1);
    live.abort();
    await waitFor(async () => metricValue(await scrape('gateway'), 'patchflow_gateway_live_streams') === 0, {
      timeoutMs: 10_000,
      what: 'the closed live stream to leave the gauge',
    });
  });

  it('the Grafana dashboard charts only metrics that the services export', () => {
    const dashboard = JSON.parse(readFileSync(join(repoRoot, 'deploy/grafana/patchflow-dashboard.json'), 'utf8')) as {
      panels: { type: string; title: string; targets?: { expr: string }[] }[];
    };
    const charts = dashboard.panels.filter((p) => p.type !== 'row');
    expect(charts.length).toBeGreaterThanOrEqual(8);
    const used = new Set<string>();
    for (const panel of charts) {
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const { expr } of panel.targets!) {
        for (const [name] of expr.matchAll(/\b(?:patchflow|process|nodejs)_[a-z0-9_]+/g)) used.add(name);
      }
    }
    // A histogram's series are its family's name plus _bucket, _sum or _count.
    const missing = [...used].filter((n) => !families.has(n) && !families.has(n.replace(/_(bucket|sum|count)$/, '')));
    expect(missing).toEqual([]);
    for (const family of [
      'patchflow_transitions_total',
      'patchflow_outbox_backlog_rows',
      'patchflow_consumer_pending_messages',
    ]) {
      expect(used, family).toContain(family);
    }
  });

  it('a POST to /metrics is 405 and an unknown path 404, on a real service', async () => {
    const port = healthPorts['patch-status'];
    const post = await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(await post.json()).toEqual({ error: 'use GET' });
    const unknown = await fetch(`http://127.0.0.1:${port}/metrics/extra`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: 'GET /healthz, /readyz or /metrics' });
  });
});
