/**
 * One trace per transition, followed across the whole system by its trace id: all seven services
 * as their own processes (as `npm start` runs them), a transition sent with a known W3C
 * `traceparent` and correlation id, and a local OTLP/HTTP receiver standing in for a collector
 * (OTEL_EXPORTER_OTLP_ENDPOINT). The trace id must come back in the response, be in the work item
 * in the stream, on every step and execution event of all four workflows, on every log line about
 * the work, in the history API, and on the spans of the gateway, patch-status and each workflow,
 * linked parent to child. A bad `traceparent` starts a new trace and the request still succeeds.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bus } from '@patchflow/bus';
import { workflowsFor } from '@patchflow/contracts';
import {
  connectTestBus,
  createTestDatabase,
  deleteNamespaceStreams,
  readStream,
  RunningSystem,
  testNatsUrl,
  uniqueNamespace,
  waitFor,
  waitForSettled,
  type SystemService,
  type TestDatabase,
} from '@patchflow/testing';

const TRACE_ID = '5a1f0c3b9d2e4f6a8b7c6d5e4f3a2b1c';
const CLIENT_SPAN = '7e3d2c1b0a998877';
const CORRELATION = 'release-2026.48-rollout';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: { key: string; value: { stringValue?: string; intValue?: string | number } }[];
}
/** Spans the stand-in collector received, with the service.name of the resource that sent each. */
const received: { service: string; span: OtlpSpan }[] = [];

let collector: Server;
let system: RunningSystem;
let bus: Bus;
const databases: TestDatabase[] = [];

const attr = (span: OtlpSpan, key: string) => {
  const v = span.attributes.find((a) => a.key === key)?.value;
  return v?.stringValue ?? (v?.intValue !== undefined ? Number(v.intValue) : undefined);
};

beforeAll(async () => {
  collector = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const doc = JSON.parse(body) as {
        resourceSpans: { resource: { attributes: OtlpSpan['attributes'] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
      };
      for (const rs of doc.resourceSpans) {
        const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '?';
        for (const ss of rs.scopeSpans) for (const span of ss.spans) received.push({ service, span });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
  const namespace = uniqueNamespace('tracing');
  bus = await connectTestBus(namespace);
  const [patchStatus, actionLog, workflows] = await Promise.all(
    ['trace_ps', 'trace_al', 'trace_wf'].map((l) => createTestDatabase(l)),
  );
  databases.push(patchStatus!, actionLog!, workflows!);
  system = await RunningSystem.start({
    natsUrl: testNatsUrl(),
    namespace,
    databases: { patchStatus: patchStatus!.url, actionLog: actionLog!.url, workflows: workflows!.url },
    // Debug: a workflow's steps are debug lines, and every line about the work is checked.
    env: {
      LOG_LEVEL: 'debug',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(collector.address() as AddressInfo).port}`,
    },
  });
}, 240_000);

afterAll(async () => {
  await system?.stop();
  if (bus) {
    await deleteNamespaceStreams(bus);
    await bus.close();
  }
  await Promise.all(databases.map((d) => d.drop()));
  await new Promise((r) => collector?.close(r));
});

/** A service's JSON log lines. */
function logLines(service: SystemService): Record<string, unknown>[] {
  return system
    .processOf(service)
    .logs.split('\n')
    .filter((l) => l.startsWith('{'))
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
}

describe('one trace per transition', () => {
  let patchId: string;
  let workId: string;
  let gatewaySpanId: string;

  it('the gateway continues the client traceparent and echoes it with the correlation id', async () => {
    const created = await system.http('POST', '/api/patches', { name: 'payments 2026.48.1', product: 'payments' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    patchId = created.body.patch.id as string;
    // An earlier transition without a traceparent: a trace of its own.
    expect((await system.http('POST', `/api/patches/${patchId}/mark-active`)).status).toBe(200);

    const reply = await system.http('POST', `/api/patches/${patchId}/start-deployment`, undefined, {
      traceparent: `00-${TRACE_ID}-${CLIENT_SPAN}-01`,
      'x-correlation-id': CORRELATION,
    });
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    workId = reply.body.transition.workId as string;
    const echoed = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(reply.headers.traceparent ?? '');
    expect(echoed?.[1], reply.headers.traceparent).toBe(TRACE_ID);
    gatewaySpanId = echoed![2]!;
    expect(gatewaySpanId).not.toBe(CLIENT_SPAN);
    expect(reply.headers['x-correlation-id']).toBe(CORRELATION);
    await waitForSettled(system, [{ patchId, action: 'startDeployment', workId }], 90_000);
  });

  it('the work item in the stream carries the transition trace (patch-status span) and the correlation id', async () => {
    const work = (await readStream(bus, 'work')).find((m) => m.msgId === workId);
    expect(work?.value).toMatchObject({
      workId,
      trace: { traceparent: expect.stringMatching(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-01$`)), correlationId: CORRELATION },
    });
  });

  it('every step and execution event of all four workflows carries the trace id', async () => {
    const events = (await readStream(bus, 'workflowEvents'))
      .map((m) => m.value as { workId: string; workflow: string; kind: string; traceId?: string })
      .filter((e) => e.workId === workId);
    for (const workflow of workflowsFor('startDeployment')) {
      const own = events.filter((e) => e.workflow === workflow);
      expect(own.filter((e) => e.kind === 'step').length, `${workflow} steps`).toBeGreaterThan(0);
      expect(own.filter((e) => e.kind === 'execution').length, `${workflow} execution events`).toBeGreaterThan(0);
    }
    expect(events.filter((e) => e.traceId !== TRACE_ID)).toEqual([]);
  });

  it('every log line about the work carries the trace id and correlation id, in every service that logs it', () => {
    // The relay's line lists the ids of a batch of many transitions: it belongs to no one trace.
    const about = (service: SystemService) =>
      logLines(service).filter((l) => l.msg !== 'outbox relay published work' && JSON.stringify(l).includes(workId));
    for (const service of ['patch-status', 'workflow-successor', 'workflow-gitlab', 'workflow-jira', 'workflow-slack'] as const) {
      const lines = about(service);
      expect(lines.length, `${service} logs the work`).toBeGreaterThan(0);
      expect(
        lines.filter((l) => l.traceId !== TRACE_ID || l.correlationId !== CORRELATION),
        service,
      ).toEqual([]);
    }
    // The action-log projects batches of many transitions: whatever it logs about this one carries it too.
    expect(about('action-log').filter((l) => l.traceId !== TRACE_ID)).toEqual([]);
    // The gateway's access line of the request, and patch-status's line of the successor the workflow created.
    expect(logLines('gateway').filter((l) => l.msg === 'http' && l.traceId === TRACE_ID)).toEqual([
      expect.objectContaining({ route: '/api/patches/:id/start-deployment', status: 200 }),
    ]);
    expect(logLines('patch-status').some((l) => l.msg === 'patch created' && l.traceId === TRACE_ID)).toBe(true);
  });

  it('the history API shows the trace id of each transition (a different one for the untraced markActive)', async () => {
    const history = await system.http('GET', `/api/patches/${patchId}/history`);
    expect(history.status).toBe(200);
    const entries = history.body.entries as { action: string; workId: string; traceId?: string }[];
    expect(entries.find((e) => e.workId === workId)?.traceId).toBe(TRACE_ID);
    const first = entries.find((e) => e.action === 'markActive');
    expect(first?.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(first?.traceId).not.toBe(TRACE_ID);
    expect((await system.http('GET', `/api/work/${workId}`)).body.work).toMatchObject({ traceId: TRACE_ID });
  });

  it('spans of the gateway, patch-status and all four workflows share the trace, linked parent to child', async () => {
    const services = ['gateway', 'patch-status', ...workflowsFor('startDeployment').map((w) => `workflow-${w}`)];
    await waitFor(() => services.every((s) => received.some((r) => r.service === s && r.span.traceId === TRACE_ID)), {
      timeoutMs: 30_000,
      intervalMs: 250,
      what: `spans of ${services.join(', ')} for the trace`,
    });
    const spans = received.filter((r) => r.span.traceId === TRACE_ID);
    const gateway = spans.find((r) => r.service === 'gateway')!.span;
    expect(gateway).toMatchObject({
      spanId: gatewaySpanId,
      parentSpanId: CLIENT_SPAN,
      name: 'POST /api/patches/:id/start-deployment',
    });
    const transition = spans.find((r) => r.service === 'patch-status' && r.span.name === 'patch-status transition')!.span;
    expect(transition.parentSpanId).toBe(gatewaySpanId);
    expect(attr(transition, 'workId')).toBe(workId);
    const work = (await readStream(bus, 'work')).find((m) => m.msgId === workId)!.value as { trace: { traceparent: string } };
    expect(work.trace.traceparent.split('-')[2]).toBe(transition.spanId);
    for (const workflow of workflowsFor('startDeployment')) {
      const execution = spans.find((r) => r.service === `workflow-${workflow}`)!.span;
      expect(execution.parentSpanId, workflow).toBe(transition.spanId);
      expect({
        workId: attr(execution, 'workId'),
        patchId: attr(execution, 'patchId'),
        action: attr(execution, 'action'),
        workflow: attr(execution, 'workflow'),
        attempt: attr(execution, 'attempt'),
        outcome: attr(execution, 'outcome'),
      }).toEqual({
        workId,
        patchId,
        action: 'startDeployment',
        workflow,
        attempt: 1,
        outcome: workflow === 'jira' ? 'skipped' : 'succeeded',
      });
    }
  });

  it('a bad traceparent starts a new trace; the request succeeds and the work carries the new trace', async () => {
    for (const bad of ['garbage', `00-${'0'.repeat(32)}-${CLIENT_SPAN}-01`, `00-${TRACE_ID.toUpperCase()}-${CLIENT_SPAN}-01`]) {
      const reply = await system.http('GET', `/api/patches/${patchId}`, undefined, {
        traceparent: bad,
        'x-correlation-id': 'bad id!',
      });
      expect(reply.status, bad).toBe(200);
      const [, traceId] = /^00-([0-9a-f]{32})-[0-9a-f]{16}-01$/.exec(reply.headers.traceparent ?? '') ?? [];
      expect(traceId, bad).toMatch(/^[0-9a-f]{32}$/);
      expect(traceId).not.toBe(TRACE_ID);
      // An unusable correlation id is replaced by the trace id.
      expect(reply.headers['x-correlation-id']).toBe(traceId);
    }
    const reply = await system.http('POST', `/api/patches/${patchId}/complete-deployment`, undefined, {
      traceparent: 'ff-nonsense',
    });
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    const traceId = reply.headers.traceparent!.split('-')[1];
    await waitFor(
      async () => (await system.http('GET', `/api/work/${reply.body.transition.workId}`)).body.work?.traceId === traceId,
      {
        timeoutMs: 30_000,
        intervalMs: 250,
        what: 'the new trace id in the history',
      },
    );
  });
});
