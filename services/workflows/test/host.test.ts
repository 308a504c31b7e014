import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bus } from '@patchflow/bus';
import { EnvError } from '@patchflow/config';
import {
  buildWorkItem,
  connectTestBus,
  createTestDatabase,
  deleteNamespaceStreams,
  FakeGitlab,
  FakeSlack,
  freePort,
  testLogLevel,
  testNatsUrl,
  uniqueNamespace,
  waitFor,
  type TestDatabase,
} from '@patchflow/testing';
import { environmentOf, parseHostEnv, startWorkflowHost, workflowDefinitions } from '../src/index.js';

describe('the workflow host environment', () => {
  it('runs all four by default; WORKFLOW_<NAME>__<VARIABLE> is that workflow’s alone', () => {
    const env = {
      NATS_USER: 'shared',
      NATS_PASSWORD: 'p',
      WORKFLOW_GITLAB__NATS_USER: 'gitlab',
      WORKFLOW_GITLAB__NATS_PASSWORD: 'g',
    };
    const { host, environments } = parseHostEnv(env, workflowDefinitions);
    expect(host.WORKFLOWS).toEqual(['successor', 'gitlab', 'jira', 'slack']);
    expect(environments.get('gitlab')).toMatchObject({ NATS_USER: 'gitlab', NATS_PASSWORD: 'g' });
    expect(environments.get('slack')).toMatchObject({ NATS_USER: 'shared', NATS_PASSWORD: 'p' });
    expect(environmentOf('jira', { WORKFLOW_JIRA__WORKFLOW_CONCURRENCY: '4', WORKFLOW_CONCURRENCY: '16' })).toMatchObject({
      WORKFLOW_CONCURRENCY: '4',
    });
  });

  it('lists every problem at once, each naming the workflow and the variable, never a value', () => {
    const env = {
      WORKFLOWS: 'gitlab,slack',
      WORKFLOW_GITLAB__NATS_USR: 'typo',
      WORKFLOW_JIRA__NATS_USER: 'not-hosted',
      WORKFLOW_SLAK__NATS_USER: 'no-such-workflow',
      WORKFLOW_GITLAB__GITLAB_URL: 'https://gitlab.example.com',
      WORKFLOW_SLACK__NATS_USER: 'slack',
      SLACK_WEBHOOK_URL: 'not a url secret-hook',
    };
    let error: unknown;
    try {
      parseHostEnv(env, workflowDefinitions);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(EnvError);
    const lines = (error as Error).message.split('\n');
    expect(lines[0]).toBe('invalid environment:');
    expect(lines.slice(1)).toEqual([
      '  WORKFLOW_GITLAB__NATS_USR: NATS_USR is not a variable of workflow-gitlab',
      '  WORKFLOW_SLAK__NATS_USER: no workflow named slak; choose from successor, gitlab, jira, slack',
      '  workflow-gitlab: GITLAB_PROJECT_ID: GITLAB_URL is set but GITLAB_PROJECT_ID and GITLAB_TRIGGER_TOKEN are missing',
      '  workflow-slack: SLACK_WEBHOOK_URL: Invalid URL',
    ]);
    for (const secret of ['typo', 'not-hosted', 'secret-hook', 'gitlab.example.com'])
      expect((error as Error).message).not.toContain(secret);
  });

  it.each([
    ['gitlab,nope', 'WORKFLOWS: no workflow named "nope"; choose from successor, gitlab, jira, slack'],
    ['slack,slack', 'WORKFLOWS: names slack twice'],
    [' , ', 'WORKFLOWS: names no workflow; choose from successor, gitlab, jira, slack'],
  ])('WORKFLOWS=%j is refused: %s', (value, message) => {
    expect(() => parseHostEnv({ WORKFLOWS: value }, workflowDefinitions)).toThrow(message);
  });
});

describe('the workflow host', () => {
  const namespace = uniqueNamespace('host');
  let db: TestDatabase;
  let bus: Bus;
  let slack: FakeSlack;
  let gitlab: FakeGitlab;
  const base = () => ({
    NATS_URL: testNatsUrl(),
    BUS_NAMESPACE: namespace,
    LOG_LEVEL: testLogLevel,
    WORKFLOW_DATABASE_URL: db.url,
    WORKFLOW_RETRY_BASE_MS: '50',
    WORKFLOW_RETRY_MAX_MS: '500',
  });

  beforeAll(async () => {
    [db, bus, slack, gitlab] = await Promise.all([
      createTestDatabase('wf_host'),
      connectTestBus(namespace),
      FakeSlack.start(),
      FakeGitlab.start(),
    ]);
    await bus.ensureStreams();
  });
  afterAll(async () => {
    await deleteNamespaceStreams(bus);
    await bus.close();
    await Promise.all([slack.close(), gitlab.close(), db.drop()]);
  });

  it('runs the workflows WORKFLOWS names, each on its own connection and consumer, and stops them all', async () => {
    const host = await startWorkflowHost({ ...base(), ...slack.env, ...gitlab.env, WORKFLOWS: 'slack,gitlab' });
    try {
      expect([...host.services.keys()]).toEqual(['slack', 'gitlab']);
      const [slackService, gitlabService] = [host.services.get('slack')!, host.services.get('gitlab')!];
      expect(slackService.bus).not.toBe(gitlabService.bus);
      const work = buildWorkItem('markActive', { name: '2026.48.7', product: 'host' });
      await bus.publish(bus.topology.work('markActive'), work, { msgId: work.workId });
      await waitFor(
        () =>
          slack.posts.some((p) => JSON.stringify(p).includes('2026.48.7')) &&
          gitlab.pipelines.some((p) => JSON.stringify(p).includes(work.patch.id)),
        { what: 'the slack post and the gitlab pipeline of one work item' },
      );
      // Only the hosted workflows consume: jira and successor have no durable consumer here.
      const consumers = (await bus.admin.consumers(bus.topology.streams.work.name)).map((c) => c.durableName).sort();
      expect(consumers).toEqual(['workflow-gitlab', 'workflow-slack']);
    } finally {
      await host.stop();
    }
    expect(host.services.get('slack')!.bus.isConnected).toBe(false);
    expect(host.services.get('gitlab')!.bus.isConnected).toBe(false);
  });

  it('exports the executions of every hosted workflow through one tracer: service.name workflows, span per workflow', async () => {
    const spans: { service: string; name: string }[] = [];
    const collector = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const doc = JSON.parse(body) as {
          resourceSpans: {
            resource: { attributes: { key: string; value: { stringValue?: string } }[] };
            scopeSpans: { spans: { name: string }[] }[];
          }[];
        };
        for (const rs of doc.resourceSpans) {
          const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '?';
          for (const ss of rs.scopeSpans) for (const span of ss.spans) spans.push({ service, name: span.name });
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
    const host = await startWorkflowHost({
      ...base(),
      ...slack.env,
      ...gitlab.env,
      WORKFLOWS: 'slack,gitlab',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(collector.address() as AddressInfo).port}`,
    });
    try {
      const work = buildWorkItem('markActive', { name: '2026.48.8', product: 'host' });
      await bus.publish(bus.topology.work('markActive'), work, { msgId: work.workId });
      await waitFor(
        () =>
          ['workflow-slack execution', 'workflow-gitlab execution'].every((n) =>
            spans.some((s) => s.name === n && s.service === 'workflows'),
          ),
        { timeoutMs: 15_000, what: `both executions' spans (got ${JSON.stringify(spans)})` },
      );
    } finally {
      await host.stop();
      await new Promise((r) => collector.close(r));
    }
  });

  it('one workflow that cannot start fails the start, named, and the others it started are stopped', async () => {
    const unreachable = `postgres://root@127.0.0.1:${await freePort()}/nowhere`;
    const started = startWorkflowHost({
      ...base(),
      WORKFLOWS: 'slack,jira',
      WORKFLOW_JIRA__WORKFLOW_DATABASE_URL: unreachable,
    });
    await expect(started).rejects.toThrow(/^workflow-jira: .*Postgres is not reachable/);
    // slack had started (the host waits for every start): nobody answers its ops endpoints now.
    expect(await bus.admin.hasSubscribers(bus.topology.workflowOps('slack', 'deadletters.list'))).toBe(false);
  });
});
