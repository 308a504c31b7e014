import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { Bus } from '@patchflow/bus';
import { startActionLog, type RunningActionLog } from '@patchflow/action-log';
import { startPatchStatus, type PatchStatusApp } from '@patchflow/patch-status';
import {
  connectTestBus,
  createTestDatabase,
  deleteNamespaceStreams,
  testLogLevel,
  testNatsUrl,
  uniqueNamespace,
  type TestDatabase,
} from '@patchflow/testing';
import { parseTokens, startGateway, TokenRegistry, type GatewayOptions, type RunningGateway } from '../src/index.js';
import { client, GATEWAY_TOKENS, rawGet, rawRequest, readEvents, tokens } from './helpers.js';

// The gateway's HTTP edge against real patch-status and action-log: who may see what under any
// spelling of a path, the limits that keep one client from holding the gateway, and the headers.
let patchDb: TestDatabase;
let logDb: TestDatabase;
let bus: Bus;
let patchStatus: PatchStatusApp;
let actionLog: RunningActionLog;
let namespace: string;
let gateway: RunningGateway;
let http: ReturnType<typeof client>;
const gateways: RunningGateway[] = [];
const logLines: string[] = [];
let patch: { id: string; name: string };
let workId: string;

/** Another gateway on the same bus, with its own limits; its log lines go to `logLines`. */
async function gatewayWith(limits: GatewayOptions['limits']): Promise<RunningGateway> {
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
  const gw = await startGateway({
    natsUrl: testNatsUrl(),
    namespace,
    tokens: new TokenRegistry(parseTokens(GATEWAY_TOKENS).tokens),
    port: 0,
    logger,
    limits,
  });
  gateways.push(gw);
  return gw;
}

beforeAll(async () => {
  [patchDb, logDb] = await Promise.all([createTestDatabase('gwsec_patch'), createTestDatabase('gwsec_log')]);
  namespace = uniqueNamespace('gwsec');
  bus = await connectTestBus(namespace);
  const common = { natsUrl: testNatsUrl(), namespace, logLevel: testLogLevel };
  [patchStatus, actionLog] = await Promise.all([
    startPatchStatus({ databaseUrl: patchDb.url, ...common }),
    startActionLog({ databaseUrl: logDb.url, ...common }),
  ]);
  gateway = await gatewayWith({});
  http = client(gateway.url);
  const created = await http('POST', '/api/patches', {
    token: tokens.operator,
    body: { name: 'secret-name 2026.48.1', product: 'vault' },
  });
  expect(created.status).toBe(201);
  patch = created.body.patch;
  const active = await http('POST', `/api/patches/${patch.id}/mark-active`, { token: tokens.operator });
  workId = active.body.transition.workId;
});

afterAll(async () => {
  for (const gw of gateways) await gw.stop();
  await actionLog?.stop();
  await patchStatus?.stop();
  if (bus) {
    await deleteNamespaceStreams(bus);
    await bus.drain();
  }
  await Promise.all([patchDb?.drop(), logDb?.drop()]);
});

const noStackTrace = (body: string) => {
  expect(body).not.toMatch(/\n\s+at |node_modules|\.ts:\d+/);
};

describe('deny by default: the matched route decides, never the raw URL', () => {
  it('answers 401 without a token to every spelling of a data path, and the same path with a token is the real route', async () => {
    const id = patch.id;
    const spellings = [
      '/%61pi/patches',
      '/ap%69/patches',
      '/%61%70%69/patches',
      `/%61pi/patches/${id}`,
      `/ap%69/patches/${id}/history`,
      `/%61pi/patches/${id}/history?limit=5`,
      `/%61pi/work/${workId}`,
      `/api/w%6frk/${workId}`,
      '/api/work/%2e%2e',
      '/api/work/..%2f..%2fpatches',
      `/api/patches%2F${id}`,
      '//api/patches',
      '/API/patches',
      '/Api/Patches',
      '/api/patches/',
      `/api/patches/${id}/`,
      `/api/patches/${id}/history/`,
      '/api/./patches',
      '/api/%2E%2E/api/patches',
      '/ui/../api/patches',
      '/ui/%2e%2e/api/patches',
      '/api/patches;x',
      '/api/patches%00',
      `/%61pi/patches/${id}/events`,
      `/api/patches/${id}/events`,
      `/api/patches?access_token=${tokens.admin}`, // the query token is for the event stream only
      `/ap%69/patches/${id}?access_token=${tokens.admin}`,
      '/%61pi/session',
      '/api/lifecycle',
      '/nothing-here',
      '/ui/nothing.js',
      'http://elsewhere/api/patches', // absolute-form request target
    ];
    for (const path of spellings) {
      const res = await rawGet(gateway.port, path);
      expect({ path, status: res.status }).toEqual({ path, status: 401 });
      expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'unauthorized' } });
      expect(res.body).not.toContain(patch.name);
    }
    for (const method of ['HEAD', 'OPTIONS', 'PUT', 'DELETE', 'PATCH']) {
      expect((await rawGet(gateway.port, '/%61pi/patches', undefined, method)).status).toBe(401);
    }
    // A POST under a decoded spelling is refused before its body is read.
    const post = await rawRequest(
      gateway.port,
      'POST /%61pi/patches HTTP/1.1\nhost: x\nconnection: close\ncontent-type: application/json\ncontent-length: 33',
      { body: ['{"name":"evil 1","product":"ev"}\n'] },
    );
    expect(post.status).toBe(401);

    // The router decoded them to real routes: with a token they are those routes.
    const list = await rawGet(gateway.port, '/%61pi/patches', tokens.viewer);
    expect(list.status).toBe(200);
    expect(list.body).toContain(patch.name);
    expect((await rawGet(gateway.port, `/ap%69/patches/${id}/history`, tokens.viewer)).status).toBe(200);
    expect((await rawGet(gateway.port, `/%61pi/work/${workId}`, tokens.viewer)).status).toBe(200);
    // Unmatched paths with a token are a plain 404, never data.
    for (const path of ['//api/patches', '/API/patches', '/api/./patches', '/ui/../api/patches', `/api/patches/${id}/`]) {
      const res = await rawGet(gateway.port, path, tokens.viewer);
      expect({ path, status: res.status }).toEqual({ path, status: 404 });
      expect(res.body).not.toContain(patch.name);
    }
  });

  it('serves exactly the public routes without a token', async () => {
    for (const path of [
      '/',
      '/ui/app.js',
      '/ui/styles.css',
      '/ui/lifecycle-diagram.js',
      '/ui/index.html',
      '/healthz',
      '/readyz',
      '/api/openapi.json',
      '/api/docs',
      '/%68ealthz',
    ]) {
      expect({ path, status: (await rawGet(gateway.port, path)).status }).toEqual({ path, status: 200 });
    }
    // A public route never turns a bad token into access elsewhere, nor is hurt by one.
    expect((await rawGet(gateway.port, '/healthz', 'not-a-real-token-at-all')).status).toBe(200);
  });

  it('never serves a file outside the UI, however the path is spelled', async () => {
    for (const path of [
      '/ui/../package.json',
      '/ui/%2e%2e/package.json',
      '/ui/..%2f..%2fpackage.json',
      '/ui/%2e%2e%2f%2e%2e%2fsrc/server.ts',
      '/ui/....//package.json',
      '/..%2fpackage.json',
    ]) {
      for (const token of [undefined, tokens.admin]) {
        const res = await rawGet(gateway.port, path, token);
        expect([401, 404]).toContain(res.status);
        expect(res.body).not.toContain('@patchflow/gateway');
      }
    }
  });

  it('keeps the 401/403 matrix on the real routes', async () => {
    const cases: [string, string, string | undefined, number][] = [
      ['GET', '/api/patches', undefined, 401],
      ['GET', '/api/patches', 'not-a-real-token-at-all', 401],
      ['GET', '/api/patches', tokens.viewer, 200],
      ['POST', '/api/patches', tokens.viewer, 403],
      ['POST', `/api/patches/${patch.id}/cancel`, tokens.operator, 403],
      ['POST', `/api/patches/${patch.id}/start-deployment`, tokens.viewer, 403],
      ['GET', '/api/session', tokens.admin, 200],
    ];
    for (const [method, path, token, status] of cases) {
      const body = method === 'POST' ? (path === '/api/patches' ? { name: 'x 1', product: 'x' } : { reason: 'r' }) : undefined;
      const res = await http(method, path, { ...(token ? { token } : {}), ...(body ? { body } : {}) });
      expect({ method, path, status: res.status }).toEqual({ method, path, status });
    }
    const basic = await http('GET', '/api/patches', { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    expect(basic.body.error.message).toMatch(/Bearer/);
  });
});

describe('bad input is a 400 naming the field, never a 500', () => {
  it('refuses NUL bytes and integers past int4 in bodies, query strings and headers', async () => {
    const nulName = await http('POST', '/api/patches', {
      token: tokens.operator,
      body: { name: 'bad\u0000name', product: 'vault' },
    });
    expect(nulName.status).toBe(400);
    expect(nulName.body.error).toMatchObject({
      code: 'validation_failed',
      details: { fields: [{ path: 'name', message: 'must not contain NUL bytes' }] },
    });

    const nulReason = await http('POST', `/api/patches/${patch.id}/transitions`, {
      token: tokens.admin,
      body: { action: 'cancel', reason: 'r\u0000' },
    });
    expect(nulReason.status).toBe(400);
    expect(nulReason.body.error.details.fields).toEqual([{ path: 'reason', message: 'must not contain NUL bytes' }]);

    for (const expectedVersion of [2 ** 40, 2 ** 31, 1.5, -1]) {
      const big = await http('POST', `/api/patches/${patch.id}/mark-active`, {
        token: tokens.operator,
        body: { expectedVersion },
      });
      expect(big.status).toBe(400);
      expect(big.body.error.details.fields.map((f: { path: string }) => f.path)).toEqual(['expectedVersion']);
    }
    const huge = await http('POST', `/api/patches/${patch.id}/transitions`, {
      token: tokens.operator,
      rawBody: '{"action":"close","expectedVersion":1e400}',
    });
    expect(huge.status).toBe(400);
    expect(huge.body.error.details.fields[0].path).toBe('expectedVersion');

    const nulProduct = await http('GET', '/api/patches?product=va%00ult', { token: tokens.viewer });
    expect(nulProduct.status).toBe(400);
    expect(nulProduct.body.error.details.fields).toEqual([{ path: 'product', message: 'must not contain NUL bytes' }]);
    const nulCursor = await http('GET', `/api/patches/${patch.id}/history?cursor=%00`, { token: tokens.viewer });
    expect(nulCursor.status).toBe(400);
    expect(nulCursor.body.error.details.fields[0].path).toBe('cursor');
    const nulListCursor = await http('GET', '/api/patches?cursor=a%00b', { token: tokens.viewer });
    expect(nulListCursor.body.error.details.fields[0].path).toBe('cursor');

    const longKey = await http('POST', '/api/patches', {
      token: tokens.operator,
      body: { name: 'k 1', product: 'vault' },
      headers: { 'idempotency-key': 'k'.repeat(201) },
    });
    expect(longKey.status).toBe(400);
    expect(longKey.body.error.details.fields).toEqual([{ path: 'idempotency-key', message: expect.stringMatching(/200/) }]);
    // A NUL cannot even travel in a header: Node's parser refuses the request.
    const nulHeader = await rawRequest(
      gateway.port,
      `GET /api/patches HTTP/1.1\nhost: x\nconnection: close\nauthorization: Bearer ${tokens.viewer}\nidempotency-key: a\u0000b`,
    );
    expect(nulHeader.status).toBe(400);

    expect((await http('GET', '/api/patches', { token: tokens.viewer })).status).toBe(200);
  });

  it('answers 413 over 256 KB, 400 for deep or broken JSON and malformed URLs, 431 for huge headers — without stack traces', async () => {
    const tooBig = await http('POST', '/api/patches', {
      token: tokens.operator,
      rawBody: JSON.stringify({ name: 'x'.repeat(300 * 1024), product: 'vault' }),
    });
    expect(tooBig.status).toBe(413);
    expect(tooBig.body.error.code).toBe('validation_failed');

    const deep = await http('POST', '/api/patches', {
      token: tokens.operator,
      rawBody: `{"name":${'['.repeat(100_000)}${']'.repeat(100_000)},"product":"vault"}`,
    });
    expect(deep.status).toBe(400);
    expect(deep.body.error.details.fields[0].path).toBe('name');
    const deepObject = await http('POST', '/api/patches', {
      token: tokens.operator,
      rawBody: `${'{"a":'.repeat(40_000)}1${'}'.repeat(40_000)}`,
    });
    expect(deepObject.status).toBe(400);

    const proto = await http('POST', '/api/patches', {
      token: tokens.operator,
      rawBody: '{"name":"p 1","product":"vault","__proto__":{"admin":true}}',
    });
    expect(proto.status).toBe(400);

    const badUrl = await rawGet(gateway.port, '/api/patches%', tokens.viewer);
    expect(badUrl.status).toBe(400);
    expect(JSON.parse(badUrl.body).error.code).toBe('validation_failed');

    const hugeHeaders = await rawRequest(
      gateway.port,
      `GET /api/patches HTTP/1.1\nhost: x\nconnection: close\nx-filler: ${'a'.repeat(20_000)}`,
    );
    expect(hugeHeaders.status).toBe(431);
    expect(JSON.parse(hugeHeaders.body).error.code).toBe('validation_failed');

    for (const res of [tooBig, deep, deepObject, proto]) noStackTrace(JSON.stringify(res.body));
    for (const res of [badUrl, hugeHeaders]) noStackTrace(res.body);
    expect((await http('GET', '/healthz')).status).toBe(200);
  });
});

describe('security headers', () => {
  it('marks every answer nosniff, unframeable and (API) uncacheable; the UI keeps its own CSP', async () => {
    const api = await http('GET', '/api/patches', { token: tokens.viewer });
    const refused = await http('GET', '/api/patches');
    const missing = await http('GET', '/api/nothing', { token: tokens.viewer });
    const malformed = await rawGet(gateway.port, '/api/patches%', tokens.viewer);
    for (const headers of [api.headers, refused.headers, missing.headers, new Headers(malformed.headers)]) {
      expect(headers.get('x-content-type-options')).toBe('nosniff');
      expect(headers.get('x-frame-options')).toBe('DENY');
      expect(headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(headers.get('cache-control')).toBe('no-store');
    }
    const ui = await fetch(`${gateway.url}/`);
    expect(ui.headers.get('content-security-policy')).toMatch(/^default-src 'self'; .*frame-ancestors 'none'/);
    expect(ui.headers.get('x-frame-options')).toBe('DENY');
    expect(ui.headers.get('x-content-type-options')).toBe('nosniff');
    expect(ui.headers.get('cache-control')).toBe('no-cache');

    const stream = await fetch(`${gateway.url}/api/patches/${patch.id}/events?access_token=${tokens.viewer}`);
    expect(stream.headers.get('cache-control')).toMatch(/no-store/);
    expect(stream.headers.get('x-content-type-options')).toBe('nosniff');
    expect(stream.headers.get('x-frame-options')).toBe('DENY');
    await stream.body?.cancel();
  });
});

describe('HTTP limits', () => {
  it('cuts a body trickled one byte at a time, and a stream outlives that timeout', async () => {
    const tight = await gatewayWith({ requestTimeoutMs: 1_500, headersTimeoutMs: 1_000, idleTimeoutMs: 3_000 });
    // An event stream opened first: its request is complete once its headers are in.
    const stream = await fetch(`${tight.url}/api/patches/${patch.id}/events`, {
      headers: { authorization: `Bearer ${tokens.viewer}` },
    });
    expect(stream.status).toBe(200);
    const events = readEvents(stream.body!, (evs) => evs.some((e) => e.event === 'updated'));

    const body = '{"name":"slow 1","product":"vault"}';
    const slow = await rawRequest(
      tight.port,
      `POST /api/patches HTTP/1.1\nhost: x\nconnection: close\nauthorization: Bearer ${tokens.operator}\ncontent-type: application/json\ncontent-length: ${body.length}`,
      { body: [...body], chunkEveryMs: 400, timeoutMs: 10_000 },
    );
    expect(slow.status).toBe(408);
    expect(JSON.parse(slow.body).error.code).toBe('timeout');
    expect(slow.ms).toBeLessThan(5_000); // 1.5 s timeout, checked every 250 ms; the whole body would need 14 s

    // Headers trickled (slowloris) are cut as well.
    const slowHead = await rawRequest(tight.port, 'GET /healthz HTTP/1.1', {
      headComplete: false,
      body: ['\r\nhost: x', ...Array.from({ length: 12 }, (_, i) => `\r\nx-${i}: ${i}`), '\r\n\r\n'], // 5.6 s to complete
      chunkEveryMs: 400,
    });
    expect(slowHead.status).toBe(408);
    expect(slowHead.ms).toBeLessThan(4_500);

    // A quiet stream stays open past the idle timeout (heartbeats) and still delivers.
    await new Promise((r) => setTimeout(r, 3_500));
    await http('POST', `/api/patches/${patch.id}/start-deployment`, { token: tokens.operator });
    const received = await events;
    expect(received.map((e) => e.event)).toEqual(expect.arrayContaining(['ready', 'updated']));

    // A normal request on the same gateway is unaffected.
    const ok = await client(tight.url)('POST', '/api/patches', {
      token: tokens.operator,
      body: { name: 'quick 1', product: 'vault' },
    });
    expect(ok.status).toBe(201);
  }, 30_000);

  it('caps open event streams per token (429) and per gateway (503), and logs the token name, never the token', async () => {
    const capped = await gatewayWith({ liveStreamsPerToken: 2, liveStreamsTotal: 3 });
    const open = (token: string) => fetch(`${capped.url}/api/patches/${patch.id}/events?access_token=${token}`);
    const [a, b] = [await open(tokens.viewer), await open(tokens.viewer)];
    expect([a.status, b.status]).toEqual([200, 200]);
    const third = await open(tokens.viewer);
    expect(third.status).toBe(429);
    expect(((await third.json()) as { error: unknown }).error).toMatchObject({
      code: 'rate_limited',
      message: expect.stringMatching(/at most 2/),
    });

    const c = await open(tokens.operator);
    expect(c.status).toBe(200);
    const full = await open(tokens.admin);
    expect(full.status).toBe(503);
    expect(((await full.json()) as { error: { code: string } }).error.code).toBe('unavailable');

    await a.body!.cancel();
    await expect
      .poll(async () => {
        const again = await open(tokens.admin);
        if (again.status === 200) await again.body!.cancel();
        return again.status;
      })
      .toBe(200);
    await b.body!.cancel();
    await c.body!.cancel();

    const opened = logLines.filter((l) => l.includes('live stream opened')).map((l) => JSON.parse(l) as { actor: string });
    expect(opened.map((l) => l.actor)).toEqual(expect.arrayContaining(['vera', 'otto', 'ada']));
    for (const secret of Object.values(tokens)) expect(logLines.join('\n')).not.toContain(secret);
  });

  it('rate-limits per token with 429 and Retry-After, per IP without a token, and never the probes', async () => {
    const limited = await gatewayWith({ rateLimitMax: 5, rateLimitWindowMs: 60_000 });
    const call = client(limited.url);
    for (let i = 0; i < 5; i += 1) expect((await call('GET', '/api/session', { token: tokens.viewer })).status).toBe(200);
    const over = await call('GET', '/api/session', { token: tokens.viewer });
    expect(over.status).toBe(429);
    expect(over.body.error).toMatchObject({ code: 'rate_limited', details: { limit: 5 } });
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(over.headers.get('cache-control')).toBe('no-store');
    // Another token has its own budget, whatever the IP.
    expect((await call('GET', '/api/session', { token: tokens.operator })).status).toBe(200);
    // Without a valid token the IP is the key: guessing tokens is limited too.
    const guesses = [];
    for (let i = 0; i < 6; i += 1) guesses.push((await call('GET', '/api/session', { token: `guess-${i}-0123456789` })).status);
    expect(guesses).toEqual([401, 401, 401, 401, 401, 429]);
    for (let i = 0; i < 10; i += 1) {
      expect((await call('GET', '/healthz')).status).toBe(200);
      expect((await call('GET', '/readyz')).status).toBe(200);
    }
  });
});
