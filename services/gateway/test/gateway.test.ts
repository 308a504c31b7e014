import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
  waitFor,
  type TestDatabase,
} from '@patchflow/testing';
import { parseTokens, startGateway, TokenRegistry, type RunningGateway } from '../src/index.js';
import { client, GATEWAY_TOKENS, readEvents, tokens } from './helpers.js';

let patchDb: TestDatabase;
let logDb: TestDatabase;
let bus: Bus;
let patchStatus: PatchStatusApp;
let actionLog: RunningActionLog;
let gateway: RunningGateway;
let http: ReturnType<typeof client>;

const registry = () => new TokenRegistry(parseTokens(GATEWAY_TOKENS).tokens);

beforeAll(async () => {
  [patchDb, logDb] = await Promise.all([createTestDatabase('gw_patch'), createTestDatabase('gw_log')]);
  const namespace = uniqueNamespace('gw');
  bus = await connectTestBus(namespace);
  const common = { natsUrl: testNatsUrl(), namespace, logLevel: testLogLevel };
  [patchStatus, actionLog] = await Promise.all([
    startPatchStatus({ databaseUrl: patchDb.url, ...common }),
    startActionLog({ databaseUrl: logDb.url, ...common }),
  ]);
  gateway = await startGateway({ ...common, tokens: registry(), port: 0 });
  http = client(gateway.url);
});

afterAll(async () => {
  await gateway?.stop();
  await actionLog?.stop();
  await patchStatus?.stop();
  if (bus) {
    await deleteNamespaceStreams(bus);
    await bus.drain();
  }
  await Promise.all([patchDb?.drop(), logDb?.drop()]);
});

async function createPatch(name: string, product = 'payments', extra: Record<string, unknown> = {}) {
  const res = await http('POST', '/api/patches', { token: tokens.operator, body: { name, product, ...extra } });
  expect(res.status).toBe(201);
  return res.body.patch as { id: string; version: number; status: string };
}

describe('auth', () => {
  it('refuses missing, malformed and unknown tokens with 401, and keeps the probes open', async () => {
    for (const headers of [{}, { authorization: 'Basic abc' }, { authorization: 'Bearer nope-nope-nope' }] as Record<
      string,
      string
    >[]) {
      const res = await http('GET', '/api/patches', { headers });
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('unauthorized');
    }
    expect((await http('GET', '/api/lifecycle')).status).toBe(401);
    expect((await http('GET', '/healthz')).status).toBe(200);
    expect((await http('GET', '/readyz')).body).toEqual({ status: 'ready' });
    expect((await http('GET', '/api/session', { token: tokens.operator })).body).toEqual({ name: 'otto', role: 'operator' });
  });

  it('rejects a malformed GATEWAY_TOKENS naming the entry, never the token', () => {
    const { problems } = parseTokens('ok:admin:abcdefghijklmnop,bad:root:secret-secret-secret,x');
    expect(problems.join('\n')).toMatch(/entry 2 \("bad"\): role must be one of viewer, operator, admin/);
    expect(problems.join('\n')).toMatch(/entry 3 is not name:role:token/);
    expect(problems.join('\n')).not.toMatch(/secret-secret/);
  });
});

describe('patches', () => {
  it('creates a patch (201), replays an Idempotency-Key (200) and forbids viewers (403)', async () => {
    const body = { name: 'payments 2026.48.1', product: 'payments', jiraKey: 'PAY-12', gitRef: 'release/2026.48' };
    const first = await http('POST', '/api/patches', {
      token: tokens.operator,
      body,
      headers: { 'idempotency-key': 'create-1' },
    });
    expect(first.status).toBe(201);
    expect(first.body.patch).toMatchObject({ ...body, status: 'draft', version: 1 });
    const again = await http('POST', '/api/patches', {
      token: tokens.operator,
      body,
      headers: { 'idempotency-key': 'create-1' },
    });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ replayed: true, patch: { id: first.body.patch.id } });
    const viewer = await http('POST', '/api/patches', { token: tokens.viewer, body });
    expect(viewer.status).toBe(403);
    expect(viewer.body.error.code).toBe('forbidden');
  });

  it('answers bad input with 400 naming the field, and keeps answering', async () => {
    const malformed = await http('POST', '/api/patches', { token: tokens.operator, rawBody: '{"name": "x",' });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toBe('validation_failed');

    const unknown = await http('POST', '/api/patches', {
      token: tokens.operator,
      body: { name: 'a', product: 'b', colour: 'red' },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.details.fields).toEqual([{ path: 'colour', message: 'unknown field in the body' }]);

    const invalid = await http('POST', '/api/patches', {
      token: tokens.operator,
      body: { name: ' x', product: 'Bad Product', jiraKey: 'pay-1' },
    });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.details.fields.map((f: { path: string }) => f.path).sort()).toEqual(['jiraKey', 'name', 'product']);

    const badId = await http('GET', '/api/patches/not-a-uuid', { token: tokens.viewer });
    expect(badId.status).toBe(400);
    expect(badId.body.error.details.fields[0].path).toBe('id');

    const badQuery = await http('GET', '/api/patches?status=nope&limit=0&sort=name', { token: tokens.viewer });
    expect(badQuery.status).toBe(400);
    expect(badQuery.body.error.details.fields.map((f: { path: string }) => f.path).sort()).toEqual(['limit', 'sort', 'status']);

    const notJson = await http('POST', '/api/patches', {
      token: tokens.operator,
      rawBody: 'name=x',
      headers: { 'content-type': 'text/plain' },
    });
    expect(notJson.status).toBe(400);
    expect(notJson.body.error.code).toBe('validation_failed');

    const missing = await http('GET', '/api/patches/6d6f6e6b-6579-4d6f-8e6b-6579616e6b65', { token: tokens.viewer });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
    expect((await http('GET', '/api/nothing-here', { token: tokens.viewer })).status).toBe(404);

    expect((await http('GET', '/api/patches', { token: tokens.viewer })).status).toBe(200);
  });

  it('lists with filters and pages with the cursor', async () => {
    for (const n of [1, 2, 3]) await createPatch(`billing 2026.4${n}.0`, 'billing');
    const all = await http('GET', '/api/patches?product=billing&status=draft', { token: tokens.viewer });
    expect(all.body.items.map((p: { name: string }) => p.name).sort()).toEqual([
      'billing 2026.41.0',
      'billing 2026.42.0',
      'billing 2026.43.0',
    ]);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      type Page = { items: { id: string }[]; nextCursor: string | null };
      const page: { status: number; body: Page } = await http<Page>(
        'GET',
        `/api/patches?product=billing&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        { token: tokens.viewer },
      );
      expect(page.status).toBe(200);
      seen.push(...page.body.items.map((p: { id: string }) => p.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(new Set(seen).size).toBe(3);
  });
});

describe('transitions', () => {
  it('takes actions per role, records the token name as actor, and maps conflicts to 409', async () => {
    const patch = await createPatch('checkout 2026.48.1', 'checkout');
    const asViewer = await http('GET', `/api/patches/${patch.id}`, { token: tokens.viewer });
    expect(asViewer.body).toMatchObject({
      allowedActions: ['markActive', 'cancel'],
      actionsForCaller: [],
      caller: { role: 'viewer' },
    });
    const asOperator = await http('GET', `/api/patches/${patch.id}`, { token: tokens.operator });
    expect(asOperator.body.actionsForCaller).toEqual(['markActive']);
    const asAdmin = await http('GET', `/api/patches/${patch.id}`, { token: tokens.admin });
    expect(asAdmin.body.actionsForCaller).toEqual(['markActive', 'cancel']);

    const viewer = await http('POST', `/api/patches/${patch.id}/mark-active`, { token: tokens.viewer });
    expect(viewer.status).toBe(403);
    const operatorCancel = await http('POST', `/api/patches/${patch.id}/cancel`, {
      token: tokens.operator,
      body: { reason: 'no' },
    });
    expect(operatorCancel.status).toBe(403);
    expect(operatorCancel.body.error.details).toMatchObject({ action: 'cancel', role: 'operator', allowedRoles: ['admin'] });

    const invalid = await http('POST', `/api/patches/${patch.id}/complete-deployment`, { token: tokens.operator });
    expect(invalid.status).toBe(409);
    expect(invalid.body.error).toMatchObject({
      code: 'invalid_transition',
      details: { currentStatus: 'draft', allowedActions: ['markActive', 'cancel'] },
    });

    const key = { 'idempotency-key': 'activate-checkout' };
    const active = await http('POST', `/api/patches/${patch.id}/mark-active`, {
      token: tokens.operator,
      body: { expectedVersion: 1 },
      headers: key,
    });
    expect(active.status).toBe(200);
    expect(active.body).toMatchObject({
      replayed: false,
      patch: { status: 'active', version: 2 },
      transition: { actor: 'otto' },
    });
    // The same request again (same key, same action and fields) through the generic route.
    const replay = await http('POST', `/api/patches/${patch.id}/transitions`, {
      token: tokens.operator,
      body: { action: 'markActive', expectedVersion: 1 },
      headers: key,
    });
    expect(replay.status).toBe(200);
    expect(replay.body).toMatchObject({ replayed: true, transition: { id: active.body.transition.id } });

    const stale = await http('POST', `/api/patches/${patch.id}/transitions`, {
      token: tokens.operator,
      body: { action: 'startDeployment', expectedVersion: 1 },
    });
    expect(stale.status).toBe(409);
    expect(stale.body.error).toMatchObject({ code: 'version_conflict', details: { currentVersion: 2, currentStatus: 'active' } });

    const unknownAction = await http('POST', `/api/patches/${patch.id}/transitions`, {
      token: tokens.admin,
      body: { action: 'explode' },
    });
    expect(unknownAction.status).toBe(400);
    expect(unknownAction.body.error.details.fields[0].path).toBe('action');

    const deploy = await http('POST', `/api/patches/${patch.id}/start-deployment`, {
      token: tokens.admin,
      body: { expectedVersion: 2 },
    });
    expect(deploy.body.transition).toMatchObject({ actor: 'ada', fromStatus: 'active', toStatus: 'in_deployment' });
    const noReason = await http('POST', `/api/patches/${patch.id}/fail-deployment`, { token: tokens.operator, body: {} });
    expect(noReason.status).toBe(400);
    expect(noReason.body.error.details.fields).toEqual([{ path: 'reason', message: 'required for failDeployment' }]);
    const extra = await http('POST', `/api/patches/${patch.id}/fail-deployment`, {
      token: tokens.operator,
      body: { reason: 'x', action: 'close' },
    });
    expect(extra.status).toBe(400);
    expect(extra.body.error.details.fields[0].path).toBe('action');

    // The history comes from the action-log's projection of the work items.
    const history = await waitFor(
      async () => {
        const h = await http('GET', `/api/patches/${patch.id}/history`, { token: tokens.viewer });
        return h.body.entries?.length === 2 && h;
      },
      { what: 'two transitions in the history' },
    );
    expect(history.body.entries.map((e: { action: string }) => e.action)).toEqual(['markActive', 'startDeployment']);
    expect(
      history.body.entries[1].executions.map((e: { workflow: string; status: string }) => `${e.workflow}:${e.status}`),
    ).toEqual(['successor:pending', 'gitlab:pending', 'jira:pending', 'slack:pending']);
    const page = await http('GET', `/api/patches/${patch.id}/history?limit=1`, { token: tokens.viewer });
    expect(page.body.entries).toHaveLength(1);
    expect(page.body.nextCursor).toEqual(expect.any(String));
    const work = await http('GET', `/api/work/${deploy.body.transition.workId}`, { token: tokens.viewer });
    expect(work.body.work).toMatchObject({ action: 'startDeployment', transition: { actor: 'ada' } });
    const noWork = await http('GET', `/api/work/${patch.id}`, { token: tokens.viewer });
    expect(noWork.status).toBe(404);
  });
});

describe('live updates', () => {
  it('streams an `updated` event when the history of the patch changes', async () => {
    const patch = await createPatch('ledger 2026.48.1', 'ledger');
    expect((await fetch(`${gateway.url}/api/patches/${patch.id}/events`)).status).toBe(401);
    const res = await fetch(`${gateway.url}/api/patches/${patch.id}/events?access_token=${tokens.viewer}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const events = readEvents(res.body!, (evs) => evs.some((e) => e.event === 'updated'));
    // The gateway registers the stream before it sends the headers `fetch` just received.
    await http('POST', `/api/patches/${patch.id}/mark-active`, { token: tokens.operator });
    const received = await events;
    expect(received[0]?.event).toBe('ready');
    expect(JSON.parse(received.find((e) => e.event === 'updated')!.data)).toMatchObject({ patchId: patch.id, kind: 'work' });
  });
});

describe('meta', () => {
  it('serves the lifecycle with its Mermaid text and an OpenAPI 3.1 document from the schemas', async () => {
    const lc = await http('GET', '/api/lifecycle?current=active', { token: tokens.viewer });
    expect(lc.body.actions.find((a: { name: string }) => a.name === 'startDeployment')).toMatchObject({
      path: 'start-deployment',
      from: ['active', 'deployment_failed'],
      to: 'in_deployment',
    });
    expect(lc.body.mermaid).toMatch(/^stateDiagram-v2/);
    expect(lc.body.mermaid).toMatch(/class active current/);

    const doc = await http('GET', '/api/openapi.json', { token: tokens.viewer });
    expect(doc.body.openapi).toBe('3.1.0');
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining(['/api/patches', '/api/patches/{id}', '/api/patches/{id}/start-deployment', '/api/work/{id}']),
    );
    const createBody = doc.body.paths['/api/patches'].post.requestBody.content['application/json'].schema;
    expect(createBody.required).toEqual(['name', 'product']);
    expect(createBody.additionalProperties).toBe(false);
    expect(doc.body.components.schemas.PatchDetail.properties.actionsForCaller).toBeDefined();
  });

  it('serves the UI at /', async () => {
    const res = await fetch(`${gateway.url}/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/Action History/);
    expect((await fetch(`${gateway.url}/ui/app.js`)).headers.get('content-type')).toMatch(/javascript/);
  });
});
