import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import type { Bus } from '@patchflow/bus';
import type { ExecutionEvent, HistoryEntry } from '@patchflow/contracts';
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

    // The same product and name again, without the key (or with another): 409 duplicate_patch naming the existing one.
    for (const headers of [{}, { 'idempotency-key': 'create-2' }] as Record<string, string>[]) {
      const duplicate = await http('POST', '/api/patches', { token: tokens.operator, body, headers });
      expect(duplicate.status).toBe(409);
      expect(duplicate.body.error).toMatchObject({
        code: 'duplicate_patch',
        details: { existingId: first.body.patch.id, existingName: body.name, product: 'payments' },
      });
    }
    const replayedStill = await http('POST', '/api/patches', {
      token: tokens.operator,
      body,
      headers: { 'idempotency-key': 'create-1' },
    });
    expect(replayedStill.status).toBe(200);
    expect(first.body.patch.createdBy).toBe('otto');
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
    const badFilters = await http('GET', `/api/patches?hasFailures=maybe&q=${'x'.repeat(201)}`, { token: tokens.viewer });
    expect(badFilters.status).toBe(400);
    expect(badFilters.body.error.details.fields.map((f: { path: string }) => f.path).sort()).toEqual(['hasFailures', 'q']);
    const badCursor = await http('GET', '/api/patches/6d6f6e6b-6579-4d6f-8e6b-6579616e6b65/history?cursor=nope', {
      token: tokens.viewer,
    });
    expect(badCursor.status).toBe(400);
    expect(badCursor.body.error.details.fields[0].path).toBe('cursor');
    const noHistory = await http('GET', '/api/patches/6d6f6e6b-6579-4d6f-8e6b-6579616e6b65/history', { token: tokens.viewer });
    expect(noHistory.status).toBe(404);

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

  it('lists by the last change by default, searches names, and counts and filters open failures', async () => {
    const [a, b, c] = [
      await createPatch('fx 2026.50.1', 'fx'),
      await createPatch('fx 2026.50.2', 'fx'),
      await createPatch('FX rc_1', 'fx'),
    ];
    const names = async (query: string) =>
      ((await http('GET', `/api/patches?product=fx${query}`, { token: tokens.viewer })).body.items as { name: string }[]).map(
        (p) => p.name,
      );
    expect(await names('&sort=created')).toEqual(['FX rc_1', 'fx 2026.50.2', 'fx 2026.50.1']);
    const active = await http('POST', `/api/patches/${a.id}/mark-active`, { token: tokens.operator });
    expect(active.status).toBe(200);
    expect(await names('')).toEqual(['fx 2026.50.1', 'FX rc_1', 'fx 2026.50.2']);
    expect(await names('&q=RC_')).toEqual(['FX rc_1']);
    expect(await names('&q=2026.50')).toEqual(['fx 2026.50.1', 'fx 2026.50.2']);

    // The Jira move of markActive is dead-lettered (an event as workflow-jira would publish it).
    const failed: ExecutionEvent = {
      kind: 'execution',
      eventId: randomUUID(),
      workId: active.body.transition.workId,
      patchId: a.id,
      action: 'markActive',
      workflow: 'jira',
      attempt: 1,
      at: new Date().toISOString(),
      status: 'failed',
      error: 'Jira answered 400',
      willRetry: false,
      deadLettered: true,
    };
    await bus.publish(bus.topology.execution('jira'), failed);
    const failing = await waitFor(
      async () => {
        const res = await http('GET', '/api/patches?product=fx&hasFailures=true', { token: tokens.viewer });
        return res.body.items?.length === 1 && res;
      },
      { what: 'the failing patch in the filtered list' },
    );
    expect(failing.body.items).toEqual([expect.objectContaining({ id: a.id, failures: 1 })]);
    const all = (await http('GET', '/api/patches?product=fx', { token: tokens.viewer })).body.items as {
      id: string;
      failures: number;
    }[];
    expect(all.map((p) => [p.id, p.failures])).toEqual([
      [a.id, 1],
      [c.id, 0],
      [b.id, 0],
    ]);
    expect((await http('GET', '/api/patches?product=fx&hasFailures=false', { token: tokens.viewer })).body.items).toHaveLength(3);
    const none = await http('GET', '/api/patches?product=fx&hasFailures=true&q=rc', { token: tokens.viewer });
    expect(none.body).toEqual({ items: [], nextCursor: null });
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

    // Read-your-writes: right after the calls returned, the history has both transitions (from
    // patch-status), each routed workflow pending until the action-log hears of it (no workflows run here).
    const history = await http('GET', `/api/patches/${patch.id}/history`, { token: tokens.viewer });
    expect(history.status).toBe(200);
    const entries = history.body.entries as HistoryEntry[];
    expect(entries.map((e) => e.action)).toEqual(['markActive', 'startDeployment']);
    expect(entries.map((e) => e.transition.id)).toEqual([active.body.transition.id, deploy.body.transition.id]);
    expect(entries[1]!.executions.map((e) => `${e.workflow}:${e.status}`)).toEqual([
      'successor:pending',
      'gitlab:pending',
      'jira:pending',
      'slack:pending',
    ]);
    expect(entries[1]).toMatchObject({
      workflows: ['successor', 'gitlab', 'jira', 'slack'],
      settled: false,
      settledAt: null,
      settleMs: null,
      effects: 'running',
      running: ['successor', 'gitlab', 'jira', 'slack'],
      failed: [],
    });
    expect(entries[1]!.executions[0]).toMatchObject({ durationMs: null, attemptList: [], links: [] });
    expect(history.body.effects.state).toBe('running');
    expect(history.body.effects.running).toHaveLength(7);
    expect(history.body.effects.failed).toEqual([]);

    // Time in each status: from the creation, one stay per transition, the current one open.
    const spans = history.body.timeInStatus as { status: string; enteredAt: string; leftAt: string | null; durationMs: number }[];
    expect(spans.map((x) => x.status)).toEqual(['draft', 'active', 'in_deployment']);
    const created = (await http('GET', `/api/patches/${patch.id}`, { token: tokens.viewer })).body.patch.createdAt;
    expect(spans[0]!.enteredAt).toBe(created);
    expect(spans.map((x) => x.leftAt)).toEqual([active.body.transition.createdAt, deploy.body.transition.createdAt, null]);
    for (const x of spans.slice(0, -1)) expect(x.durationMs).toBe(Date.parse(x.leftAt!) - Date.parse(x.enteredAt));
    expect(spans[2]!.enteredAt).toBe(deploy.body.transition.createdAt);
    // The closed stays add up to the time from creation to the last transition.
    expect(spans[0]!.durationMs + spans[1]!.durationMs).toBe(Date.parse(deploy.body.transition.createdAt) - Date.parse(created));

    const page = await http('GET', `/api/patches/${patch.id}/history?limit=1`, { token: tokens.viewer });
    expect(page.body.entries).toHaveLength(1);
    expect(page.body.nextCursor).toEqual(expect.any(String));
    const page2 = await http('GET', `/api/patches/${patch.id}/history?limit=1&cursor=${page.body.nextCursor}`, {
      token: tokens.viewer,
    });
    expect(page2.body.entries.map((e: HistoryEntry) => e.action)).toEqual(['startDeployment']);
    expect(page2.body.nextCursor).toBeNull();
    const work = await http('GET', `/api/work/${deploy.body.transition.workId}`, { token: tokens.viewer });
    expect(work.status).toBe(200);
    expect(work.body.work).toMatchObject({ action: 'startDeployment', transition: { actor: 'ada' }, settled: false });
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
    expect(JSON.parse(received.find((e) => e.event === 'updated')!.data)).toMatchObject({
      patchId: patch.id,
      kind: 'work',
      settled: false,
      effects: 'running',
    });
  });

  it("listens to a patch's pings only while a stream of it is open, one subscription for all its streams", async () => {
    const patch = await createPatch(`2026.48.${randomUUID().slice(0, 6)}`);
    const pings = bus.topology.actionLogUpdated(patch.id);
    expect(await bus.admin.hasSubscribers(pings)).toBe(false);
    const open = async () => {
      const res = await fetch(`${gateway.url}/api/patches/${patch.id}/events?access_token=${tokens.viewer}`);
      const reader = res.body!.getReader();
      const first = new TextDecoder().decode((await reader.read()).value);
      expect(first).toContain('event: ready');
      return reader;
    };
    const [a, b] = [await open(), await open()];
    // `ready` comes only once NATS has the subscription: no flush needed here.
    expect(await bus.admin.hasSubscribers(pings)).toBe(true);
    await a.cancel();
    await new Promise((r) => setTimeout(r, 200));
    expect(await bus.admin.hasSubscribers(pings)).toBe(true);
    bus.notify(pings, { patchId: patch.id, workId: randomUUID(), kind: 'work', settled: false, effects: 'running' });
    expect(new TextDecoder().decode((await b.read()).value)).toContain('event: updated');
    await b.cancel();
    await expect.poll(() => bus.admin.hasSubscribers(pings), { timeout: 5000 }).toBe(false);
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
