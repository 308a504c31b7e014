import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { Bus } from '@patchflow/bus';
import { createLogger } from '@patchflow/log';
import { connectTestBus, testLogLevel, uniqueNamespace } from '@patchflow/testing';
import { defaultHttpLimits } from '../src/http-limits.js';
import { LiveUpdates } from '../src/live-updates.js';
import { buildServer } from '../src/server.js';
import { ServiceClient } from '../src/service-client.js';
import { parseTokens, TokenRegistry } from '../src/index.js';
import { GATEWAY_TOKENS } from './helpers.js';

// The OpenAPI document is generated from the routes: every declared route must be in it, with
// the schemas it validates with. No patch-status needed: the document and the docs page only.
let bus: Bus;
let app: FastifyInstance;
type Operation = {
  operationId?: string;
  security?: unknown[];
  parameters?: { name: string; in: string; required?: boolean }[];
  requestBody?: { required?: boolean; content: Record<string, { schema: Record<string, unknown> }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: { $ref?: string } }> }>;
};
let doc: {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown> };
  security: unknown[];
};

beforeAll(async () => {
  bus = await connectTestBus(uniqueNamespace('gwdocs'));
  const logger = createLogger('gateway', testLogLevel);
  const live = new LiveUpdates(bus, { perToken: 1, total: 1, heartbeatMs: 15_000 }, logger);
  app = await buildServer({
    services: new ServiceClient(bus, 1000),
    tokens: new TokenRegistry(parseTokens(GATEWAY_TOKENS).tokens),
    live,
    logger,
    limits: defaultHttpLimits,
  });
  await app.ready();
  const res = await app.inject({ method: 'GET', url: '/api/openapi.json' });
  expect(res.statusCode).toBe(200);
  doc = res.json();
});

afterAll(async () => {
  await app?.close();
  await bus?.drain();
});

const openApiPath = (url: string) => url.replace(/:([A-Za-z]+)/g, '{$1}');

describe('the OpenAPI document', () => {
  it('has every declared route, and nothing else', () => {
    const documented = app.declaredRoutes.filter((r) => !r.hidden);
    expect(documented.length).toBeGreaterThan(15);
    for (const route of documented) {
      const operation = doc.paths[openApiPath(route.url)]?.[route.method.toLowerCase()];
      expect({ route, documented: operation !== undefined }).toEqual({ route, documented: true });
      expect(operation!.operationId).toEqual(expect.any(String));
    }
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(operations.sort()).toEqual(documented.map((r) => `${r.method} ${openApiPath(r.url)}`).sort());
    // Only the UI's pages and files stay out of the document.
    expect(
      app.declaredRoutes
        .filter((r) => r.hidden)
        .map((r) => r.url)
        .sort(),
    ).toEqual(
      [
        '/',
        '/api/docs',
        ...['app.js', 'docs.css', 'docs.html', 'docs.js', 'index.html', 'lifecycle-diagram.js', 'styles.css'].map(
          (f) => `/ui/${f}`,
        ),
      ].sort(),
    );
    const ids = Object.values(doc.paths).flatMap((ops) => Object.values(ops).map((op) => op.operationId));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('says which routes need a token: all but the public ones', () => {
    expect(doc.security).toEqual([{ bearer: [] }]);
    const publicOps = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops)
        .filter(([, op]) => Array.isArray(op.security) && op.security.length === 0)
        .map(([method]) => `${method.toUpperCase()} ${path}`),
    );
    expect(publicOps.sort()).toEqual(['GET /api/openapi.json', 'GET /healthz', 'GET /readyz']);
    expect(doc.paths['/api/patches']!.get!.responses['401']!.content!['application/json']!.schema.$ref).toBe(
      '#/components/schemas/ErrorResponse',
    );
  });

  it('describes each request with the schemas the route validates with', () => {
    const create = doc.paths['/api/patches']!.post!;
    const body = create.requestBody!.content['application/json']!.schema as {
      required: string[];
      additionalProperties: boolean;
      properties: Record<string, { allOf?: { pattern: string }[] }>;
    };
    expect(create.requestBody!.required).toBe(true);
    expect(body.required).toEqual(['name', 'product']);
    expect(body.additionalProperties).toBe(false);
    expect(JSON.stringify(body.properties.name)).toContain('\\\\u0000'); // the NUL-byte refusal is documented too
    // The route's own parameters (the trace headers every operation shares are checked below).
    const own = (op: Operation) => (op.parameters ?? []).filter((p) => p.name !== undefined);
    expect(own(create)).toEqual([expect.objectContaining({ name: 'idempotency-key', in: 'header', required: false })]);
    expect(Object.keys(create.responses).sort()).toEqual(['200', '201', '400', '401', '403', '409', '422', '429', '503', '504']);

    const close = doc.paths['/api/patches/{id}/close']!.post!;
    expect(close.requestBody!.required).toBe(false);
    expect(close.parameters).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'id', in: 'path', required: true })]),
    );
    const transition = doc.paths['/api/patches/{id}/transitions']!.post!.requestBody!.content['application/json']!.schema as {
      properties: { expectedVersion: { maximum: number } };
    };
    expect(transition.properties.expectedVersion.maximum).toBe(2 ** 31 - 1);
    const list = own(doc.paths['/api/patches']!.get!).map((p) => `${p.in}:${p.name}`);
    expect(list.sort()).toEqual([
      'query:cursor',
      'query:hasFailures',
      'query:limit',
      'query:product',
      'query:q',
      'query:sort',
      'query:status',
    ]);
    const events = doc.paths['/api/patches/{id}/events']!.get!;
    expect(events.parameters!.map((p) => p.name)).toContain('access_token');
    expect(Object.keys(events.responses['200']!.content!)).toEqual(['text/event-stream']);
  });

  it('documents the trace headers every operation takes and every answer carries, and the gateway sends them', async () => {
    type Ref = { $ref?: string };
    const components = doc.components as unknown as {
      parameters: Record<string, { name: string }>;
      headers: Record<string, unknown>;
    };
    expect(components.parameters.traceparent!.name).toBe('traceparent');
    expect(components.parameters.correlationId!.name).toBe('X-Correlation-Id');
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(operations)) {
        const refs = ((op.parameters ?? []) as Ref[]).map((p) => p.$ref);
        expect(refs, `${method} ${path}`).toEqual(
          expect.arrayContaining(['#/components/parameters/traceparent', '#/components/parameters/correlationId']),
        );
        for (const [status, response] of Object.entries(op.responses)) {
          const headers = (response as { headers?: Record<string, Ref> }).headers ?? {};
          expect(headers.traceparent?.$ref, `${method} ${path} ${status}`).toBe('#/components/headers/traceparent');
          expect(headers['X-Correlation-Id']?.$ref, `${method} ${path} ${status}`).toBe('#/components/headers/correlationId');
        }
      }
    }
    // What the document promises is what an answer carries, an error too.
    const res = await app.inject({ method: 'GET', url: '/api/patches', headers: { 'x-correlation-id': 'docs-check' } });
    expect(res.statusCode).toBe(401);
    expect(res.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    expect(res.headers['x-correlation-id']).toBe('docs-check');
  });

  it('names the response schemas once, as components, with nothing unused', () => {
    const names = Object.keys(doc.components.schemas).sort();
    expect(names).toEqual(
      expect.arrayContaining([
        'Caller',
        'CreatePatchResult',
        'ErrorResponse',
        'LifecycleView',
        'PatchDetail',
        'PatchHistoryPage',
        'PatchListPage',
        'TransitionResult',
        'WorkEntryResult',
      ]),
    );
    expect(names).not.toContain('ActionLogHistoryResult');
    type Obj = { properties: Record<string, Obj>; items?: Obj; required?: string[] };
    const schema = (name: string) => doc.components.schemas[name] as Obj;
    const patchDetail = schema('PatchDetail');
    expect(patchDetail.properties.actionsForCaller).toBeDefined();
    // Issue 11's fields, documented: names beside ids, the creator, settlement, attempts, links, time in status, failures.
    expect(Object.keys(patchDetail.properties)).toEqual(expect.arrayContaining(['predecessor', 'successor', 'successorId']));
    expect(Object.keys(patchDetail.properties.patch!.properties)).toContain('createdBy');
    const page = schema('PatchHistoryPage');
    expect(Object.keys(page.properties)).toEqual(['patchId', 'entries', 'nextCursor', 'effects', 'timeInStatus']);
    const entry = page.properties.entries!.items!;
    expect(entry.required).toEqual(
      expect.arrayContaining(['transition', 'settled', 'settledAt', 'settleMs', 'effects', 'running', 'failed']),
    );
    const execution = entry.properties.executions!.items!;
    expect(Object.keys(execution.properties)).toEqual(expect.arrayContaining(['durationMs', 'attemptList', 'links']));
    expect(Object.keys(execution.properties.attemptList!.items!.properties)).toEqual([
      'attempt',
      'startedAt',
      'finishedAt',
      'outcome',
      'error',
    ]);
    expect(Object.keys(page.properties.timeInStatus!.items!.properties)).toEqual(['status', 'enteredAt', 'leftAt', 'durationMs']);
    expect(Object.keys(schema('PatchListPage').properties.items!.items!.properties)).toContain('failures');
    expect(JSON.stringify(schema('WorkEntryResult'))).toContain('settledAt');
    const errorBody = doc.components.schemas.ErrorResponse as {
      properties: { error: { properties: { code: { enum: string[] } } } };
    };
    expect(errorBody.properties.error.properties.code.enum).toEqual(
      expect.arrayContaining(['validation_failed', 'idempotency_key_reused', 'rate_limited']),
    );
  });

  it('serves the rendered reference at /api/docs without a token, from local files only', async () => {
    const page = await app.inject({ method: 'GET', url: '/api/docs' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.headers['content-security-policy']).toMatch(/default-src 'self'.*frame-ancestors 'none'/);
    const html = page.body;
    expect(html).toContain('/ui/docs.js');
    expect(html).not.toMatch(/https?:\/\//); // no CDN
    for (const asset of ['/ui/docs.js', '/ui/docs.css'])
      expect((await app.inject({ method: 'GET', url: asset })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/ui/docs.js' })).body).not.toMatch(/innerHTML|https?:\/\//);
  });
});
