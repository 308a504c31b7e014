import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bus } from '@patchflow/bus';
import { createLogger } from '@patchflow/log';
import { PrivateNatsServer, testLogLevel, uniqueNamespace, waitFor } from '@patchflow/testing';
import { parseTokens, startGateway, TokenRegistry, type RunningGateway } from '../src/index.js';
import { client, GATEWAY_TOKENS, tokens } from './helpers.js';

// The gateway against a private nats-server that the test stops: no service behind it at all.
let nats: PrivateNatsServer;
let gateway: RunningGateway;
let silent: Bus;
let http: ReturnType<typeof client>;
const namespace = uniqueNamespace('gwfail');
const someId = '0d6f5e1c-9c59-4f43-9a7f-2a3c1b0e7d11';

beforeAll(async () => {
  nats = await PrivateNatsServer.start();
  gateway = await startGateway({
    natsUrl: nats.url,
    namespace,
    tokens: new TokenRegistry(parseTokens(GATEWAY_TOKENS).tokens),
    port: 0,
    requestTimeoutMs: 300,
    logLevel: testLogLevel,
  });
  http = client(gateway.url);
  // A "service" that takes requests for one subject and never answers.
  silent = await Bus.connect({ url: nats.url, name: 'silent', namespace, logger: createLogger('silent', testLogLevel) });
  silent.admin.subscribeRaw(silent.topology.subjects.patchGet, () => undefined);
  await silent.admin.flush();
});

afterAll(async () => {
  await silent?.close();
  await gateway?.stop();
  await nats?.dispose();
});

describe('failure modes', () => {
  it('answers 504 when the owning service does not reply in time', async () => {
    const res = await http('GET', `/api/patches/${someId}`, { token: tokens.viewer });
    expect(res.status).toBe(504);
    expect(res.body.error.code).toBe('timeout');
  });

  it('answers 503 when nobody serves the subject', async () => {
    const res = await http('GET', '/api/patches', { token: tokens.viewer });
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('unavailable');
  });

  it('answers 503 at once while NATS is down, reports not ready, and recovers', async () => {
    await silent.close();
    await nats.stop();
    await waitFor(async () => (await http('GET', '/readyz')).status === 503, { what: 'readyz to report NATS down' });
    const res = await http('POST', `/api/patches/${someId}/mark-active`, { token: tokens.operator });
    expect(res.status).toBe(503);
    expect(res.body.error).toMatchObject({ code: 'unavailable' });
    expect((await http('GET', '/healthz')).status).toBe(200);

    await nats.restart();
    // NATS is back, yet not ready: nobody serves patch-status's subjects here.
    await waitFor(async () => /patch-status does not answer/.test((await http('GET', '/readyz')).body.reason), {
      timeoutMs: 20_000,
      what: 'readyz after NATS is back',
    });
    expect((await http('GET', '/readyz')).status).toBe(503);
    const after = await http('GET', '/api/patches', { token: tokens.viewer });
    expect(after.status).toBe(503); // reachable again; still nobody serving patch.v1.list here
    expect(after.body.error.message).toMatch(/no service answers/);
  });
});
