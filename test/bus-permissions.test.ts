/**
 * The trust boundary on the bus, against a real nats-server running the configuration that
 * `npm run nats:config` generates from contracts/: every service runs as its own user (from its
 * generated `<service>.env`), the whole lifecycle works, and everything the security review
 * tried as "any NATS client" is refused.
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bus, BusPermissionError, ensureConsumer, pingInstances, type NatsAuth } from '@patchflow/bus';
import {
  busPermissions,
  busPrincipals,
  patchEndpoints,
  pingedServices,
  Topology,
  patchStatusOpsEndpoints,
  workflowOpsEndpoints,
  type BusPrincipal,
  type ExecutionEvent,
  type InstancePing,
  type PatchView,
} from '@patchflow/contracts';
import { ownVariablePrefix, readEnvFile } from '@patchflow/config';
import { createLogger } from '@patchflow/log';
import {
  buildWorkItem,
  createTestDatabase,
  FakeGitlab,
  FakeJira,
  FakeSlack,
  freePort,
  PrivateNatsServer,
  generateNatsConfig,
  repoRoot,
  ServiceProcess,
  uniqueNamespace,
  waitFor,
  type TestDatabase,
} from '@patchflow/testing';

const TOKEN = 'permissions-admin-token-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'pf-natsconf-'));
const namespace = uniqueNamespace('perm');
let port: number;
let server: PrivateNatsServer;
let gatewayUrl: string;
const credentials = {} as Record<BusPrincipal, Record<string, string>>;
const buses: Bus[] = [];
const processes: Record<string, ServiceProcess> = {};
const databases: TestDatabase[] = [];
let fakes: { slack: FakeSlack; gitlab: FakeGitlab; jira: FakeJira };

const authOf = (p: BusPrincipal): NatsAuth => ({
  user: credentials[p].NATS_USER,
  pass: credentials[p].NATS_PASSWORD,
  inboxPrefix: credentials[p].NATS_INBOX_PREFIX,
});

/** A bus client that authenticates as `principal` (what a compromised or rogue service would hold). */
async function as(principal: BusPrincipal): Promise<Bus> {
  const bus = await Bus.connect({
    url: `nats://127.0.0.1:${port}`,
    auth: authOf(principal),
    name: `test-as-${principal}`,
    namespace,
    logger: createLogger(`as-${principal}`, 'silent'),
    requestTimeoutMs: 2000,
  });
  buses.push(bus);
  return bus;
}

async function http(method: string, path: string, body?: unknown) {
  const res = await fetch(`${gatewayUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- asserted field by field
  return { status: res.status, body: (await res.json()) as any };
}

beforeAll(async () => {
  port = await freePort();
  Object.assign(credentials, generateNatsConfig(dir, ['--listen', `127.0.0.1:${port}`, '--namespace', namespace]));
  server = await PrivateNatsServer.start({ port, configFile: join(dir, 'nats-server.conf') });

  // Streams are administered by operators, as `npm start -- --nats-credentials` does.
  const ops = await as('ops');
  await ops.ensureStreams();

  const [patchDb, logDb, workflowDb] = await Promise.all(['perm_patch', 'perm_log', 'perm_wf'].map((l) => createTestDatabase(l)));
  databases.push(patchDb!, logDb!, workflowDb!);
  fakes = { slack: await FakeSlack.start(), gitlab: await FakeGitlab.start(), jira: await FakeJira.start() };
  fakes.jira.addIssue('PAY-48');
  const gatewayPort = await freePort();
  gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  const common = { NATS_URL: `nats://127.0.0.1:${port}`, LOG_LEVEL: 'info' };
  const workflow = {
    ...common,
    WORKFLOW_DATABASE_URL: workflowDb!.url,
    WORKFLOW_RETRY_BASE_MS: '100',
    WORKFLOW_RETRY_MAX_MS: '1000',
  };
  const specs: [BusPrincipal, Record<string, string>, RegExp][] = [
    ['patch-status', { ...common, DATABASE_URL: patchDb!.url }, /patch-status ready/],
    ['action-log', { ...common, ACTION_LOG_DATABASE_URL: logDb!.url }, /action-log started/],
    ['workflow-successor', workflow, /workflow consuming work/],
    ['workflow-gitlab', { ...workflow, ...fakes.gitlab.env }, /workflow consuming work/],
    ['workflow-jira', { ...workflow, ...fakes.jira.env }, /workflow consuming work/],
    ['workflow-slack', { ...workflow, ...fakes.slack.env }, /workflow consuming work/],
    ['gateway', { ...common, GATEWAY_PORT: String(gatewayPort), GATEWAY_TOKENS: `admin:admin:${TOKEN}` }, /gateway listening/],
  ];
  for (const [name, env] of specs) {
    // Exactly what `npm start -- --nats-credentials DIR` gives each service: its own file.
    processes[name] = ServiceProcess.start(`services/${name}/src/main.ts`, { ...env, ...credentials[name] });
  }
  // Generous: seven cold tsx processes on a loaded 2-core machine can take a minute to start.
  await Promise.all(specs.map(([name, , ready]) => processes[name]!.waitForLog(ready, 150_000)));
}, 240_000);

afterAll(async () => {
  for (const p of Object.values(processes)) await p.stop('SIGTERM');
  for (const b of buses) await b.close().catch(() => undefined);
  await server?.dispose();
  await Promise.all(databases.map((d) => d.drop()));
  await Promise.all(fakes ? [fakes.slack.close(), fakes.gitlab.close(), fakes.jira.close()] : []);
  rmSync(dir, { recursive: true, force: true });
});

async function createActivePatch(name: string): Promise<PatchView> {
  const created = await http('POST', '/api/patches', { name, product: 'payments', jiraKey: 'PAY-48' });
  expect(created.status).toBe(201);
  const active = await http('POST', `/api/patches/${created.body.patch.id}/mark-active`);
  expect(active.status).toBe(200);
  return active.body.patch as PatchView;
}

describe('nats:config output', () => {
  it('writes one credentials file per principal, readable by its owner only, with its own inbox', () => {
    for (const p of busPrincipals) {
      expect(statSync(join(dir, `${p}.env`)).mode & 0o777).toBe(0o600);
      expect(credentials[p]).toMatchObject({ NATS_USER: p, NATS_INBOX_PREFIX: `_INBOX_${p}`, BUS_NAMESPACE: namespace });
      expect(credentials[p].NATS_PASSWORD!.length).toBeGreaterThanOrEqual(24);
    }
    const conf = readFileSync(join(dir, 'nats-server.conf'), 'utf8');
    for (const p of busPrincipals) expect(conf).not.toContain(credentials[p].NATS_PASSWORD);
  });

  it('--help answers, a missing --out is one line naming it', () => {
    const run = (args: string[]) =>
      spawnSync(process.execPath, ['--conditions=development', '--import', 'tsx', 'scripts/nats-config.ts', ...args], {
        cwd: repoRoot,
        encoding: 'utf8',
      });
    expect(run(['--help']).stdout).toContain('--nats-credentials');
    const missing = run([]);
    expect(missing.status).toBe(2);
    expect(missing.stderr.trim()).toBe('nats:config: --out DIR is required (see --help)');
  });
});

describe('every service as its own NATS user', () => {
  it('the whole lifecycle still works: transitions, all four workflows, the successor, the history', async () => {
    const patch = await createActivePatch('2026.48.1');
    const started = await http('POST', `/api/patches/${patch.id}/start-deployment`);
    expect(started.status).toBe(200);
    const history = await waitFor(
      async () => {
        const h = await http('GET', `/api/patches/${patch.id}/history`);
        const executions = h.body.entries.flatMap((t: { executions: { status: string }[] }) => t.executions);
        return executions.length === 7 && executions.every((e: { status: string }) => e.status === 'succeeded') && h.body;
      },
      { timeoutMs: 30_000, what: 'every execution succeeded' },
    ).catch(async (err: unknown) => {
      const h = await http('GET', `/api/patches/${patch.id}/history`);
      const logs = Object.entries(processes).map(
        ([n, p]) =>
          `${n}: ${p.logs
            .split('\n')
            .filter((l) => /error|warn|violation/i.test(l))
            .slice(-5)
            .join('\n')}`,
      );
      throw new Error(`${String(err)}\n${JSON.stringify(h.body).slice(0, 3000)}\n${logs.join('\n')}`);
    });
    expect(history.entries).toHaveLength(2);
    const detail = await http('GET', `/api/patches/${patch.id}`);
    expect(detail.body.successorId).toEqual(expect.any(String));
    expect(fakes.gitlab.pipelines.length).toBeGreaterThanOrEqual(2);
    expect(fakes.slack.posts.length).toBeGreaterThanOrEqual(2);
  });

  it("a live stream under the gateway's own NATS user: it subscribes to the patch's pings and gets them", async () => {
    const patch = await createActivePatch('2026.48.41');
    const res = await fetch(`${gatewayUrl}/api/patches/${patch.id}/events?access_token=${TOKEN}`);
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let seen = '';
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('event: ready');
    await http('POST', `/api/patches/${patch.id}/start-deployment`);
    while (!seen.includes('event: updated')) seen += new TextDecoder().decode((await reader.read()).value);
    expect(seen).toContain(patch.id);
    await reader.cancel();
  });

  it('only the gateway takes transitions: a workflow or ops forging an admin actor is refused, nothing changes', async () => {
    const patch = await createActivePatch('2026.48.10');
    const request = {
      patchId: patch.id,
      action: 'cancel' as const,
      actor: { name: 'alice', role: 'admin' as const },
      reason: 'forged',
    };
    for (const p of ['workflow-slack', 'workflow-successor', 'action-log', 'ops'] as const) {
      const reply = await (await as(p)).request(patchEndpoints.transition, request);
      expect(reply.ok, p).toBe(false);
      if (!reply.ok) expect(reply.error.code, p).toBe('forbidden');
    }
    expect((await http('GET', `/api/patches/${patch.id}`)).body.patch).toMatchObject({
      status: 'active',
      version: patch.version,
    });
  });

  it('only the successor may create patches on the bus (no squatting a successor slot)', async () => {
    const patch = await createActivePatch('2026.48.20');
    const squat = { name: '2026.48.21', product: 'payments', predecessorId: patch.id, actor: 'mallory' };
    for (const p of ['workflow-gitlab', 'workflow-jira', 'action-log', 'ops'] as const) {
      const reply = await (await as(p)).request(patchEndpoints.create, squat);
      expect(reply.ok, p).toBe(false);
    }
    expect((await http('GET', `/api/patches/${patch.id}`)).body.successorId).toBeNull();
  });

  it('only patch-status publishes work: a hand-made work item is refused for everyone else', async () => {
    const patch = await createActivePatch('2026.48.30');
    const work = buildWorkItem('startDeployment', { ...patch, status: 'draft' });
    for (const p of ['gateway', 'action-log', 'workflow-successor', 'workflow-gitlab', 'ops'] as const) {
      const bus = await as(p);
      await expect(bus.publish(bus.topology.work('startDeployment'), work, { msgId: work.workId }), p).rejects.toThrow(
        /Permissions Violation/,
      );
    }
    await new Promise((r) => setTimeout(r, 500));
    expect(
      fakes.gitlab.pipelines.some((pl) => pl.variables.PATCH_ID === patch.id && pl.variables.PATCH_ACTION === 'startDeployment'),
    ).toBe(false);
    expect((await http('GET', `/api/patches/${patch.id}`)).body.successorId).toBeNull();
  });

  it('a workflow speaks only for itself: another workflow’s execution or step events are refused', async () => {
    const slack = await as('workflow-slack');
    const event: ExecutionEvent = {
      kind: 'execution',
      eventId: crypto.randomUUID(),
      workId: crypto.randomUUID(),
      patchId: crypto.randomUUID(),
      action: 'markActive',
      workflow: 'jira',
      attempt: 1,
      at: new Date().toISOString(),
      status: 'succeeded',
      willRetry: false,
      deadLettered: false,
    };
    await expect(slack.publish(slack.topology.execution('jira'), event)).rejects.toThrow(/Permissions Violation/);
    await expect(slack.publish(slack.topology.deadLetter('gitlab'), event)).rejects.toThrow(/Permissions Violation/);
    const actionLog = await as('action-log');
    await expect(actionLog.publish(actionLog.topology.execution('slack'), { ...event, workflow: 'slack' })).rejects.toThrow(
      /Permissions Violation/,
    );
  });

  it('a workflow consumes only its own durable', async () => {
    const slack = await as('workflow-slack');
    await expect(ensureConsumer(slack, slack.topology.workflowConsumer('gitlab'))).rejects.toThrow(BusPermissionError);
    await expect(ensureConsumer(slack, slack.topology.actionLogConsumers().work)).rejects.toThrow(BusPermissionError);
  });

  it('dead letters are operators’ business: the gateway may not list or retry them, ops may', async () => {
    const gateway = await as('gateway');
    const list = await gateway.request(workflowOpsEndpoints('gitlab').listDeadLetters, {});
    expect(list.ok).toBe(false);
    if (!list.ok) expect(list.error.code).toBe('forbidden');
    const retry = await gateway.request(workflowOpsEndpoints('gitlab').retryDeadLetters, { all: true });
    expect(retry.ok).toBe(false);
    const ops = await as('ops');
    expect((await ops.request(workflowOpsEndpoints('gitlab').listDeadLetters, {})).ok).toBe(true);
  });

  it('the UI’s repair routes: the gateway may retry one execution, replay and read attention, nothing more', async () => {
    const gateway = await as('gateway');
    const nobody = '00000000-0000-4000-8000-000000000000';
    const code = (r: { ok: boolean; error?: { code: string } }) => (r.ok ? 'ok' : r.error!.code);
    const jira = workflowOpsEndpoints('jira');
    expect(code(await gateway.request(jira.attention, {}))).toBe('ok');
    // Answered by the workflow (no such execution), so the request was allowed through.
    expect(code(await gateway.request(jira.retryExecution, { workId: nobody }))).toBe('not_found');
    expect(code(await gateway.request(jira.replay, { items: [{ workId: nobody }] }))).toBe('ok');
    expect(code(await gateway.request(jira.discardDeadLetter, { workId: nobody, actor: 'gw', reason: 'x' }))).toBe('forbidden');
    expect(code(await gateway.request(patchStatusOpsEndpoints.publishOutbox, {}))).toBe('forbidden');
    expect(code(await gateway.request(patchStatusOpsEndpoints.listOutbox, {}))).toBe('forbidden');
    // Operators reach patch-status's outbox endpoints and discard; a workflow may not push the outbox.
    const ops = await as('ops');
    expect(code(await ops.request(patchStatusOpsEndpoints.listOutbox, {}))).toBe('ok');
    expect(code(await ops.request(jira.discardDeadLetter, { workId: nobody, actor: 'ops', reason: 'x' }))).toBe('not_found');
    const slack = await as('workflow-slack');
    expect(code(await slack.request(patchStatusOpsEndpoints.publishOutbox, {}))).toBe('forbidden');
  });

  it('a workflow reads single work items from the work stream (replays), and nothing from the others', async () => {
    const slack = await as('workflow-slack');
    const work = await slack.admin.message(slack.topology.streams.work.name, 1);
    expect(work?.subject).toMatch(/patch\.work\.v1\./);
    await expect(slack.admin.message(slack.topology.streams.workflowEvents.name, 1)).rejects.toThrow();
  });

  it('nobody else can answer patch-status’s requests or read the work stream', async () => {
    const patch = await createActivePatch('2026.48.40');
    // A rogue workflow tries to answer `patch.v1.get` in the same queue group as patch-status.
    const rogue = await as('workflow-jira');
    rogue.serve(patchEndpoints.get, async () => ({
      patch: { ...patch, name: 'IMPOSTOR' },
      allowedActions: [],
      successorId: null,
      predecessor: null,
      successor: null,
    }));
    // The gateway tries to snoop on work; it may listen to live-update pings (the control).
    const gateway = await as('gateway');
    const snooped: unknown[] = [];
    const pings: unknown[] = [];
    gateway.listen(gateway.topology.allWork, (v) => void snooped.push(v));
    gateway.listen(gateway.topology.allActionLogUpdates, (v) => void pings.push(v));
    await new Promise((r) => setTimeout(r, 200));
    for (let i = 0; i < 20; i += 1) {
      const got = await gateway.call(patchEndpoints.get, { id: patch.id });
      expect(got.patch.name).toBe('2026.48.40');
    }
    await http('POST', `/api/patches/${patch.id}/start-deployment`);
    await waitFor(() => pings.length > 0, { timeoutMs: 10_000, what: 'a live-update ping (the control)' });
    expect(snooped).toHaveLength(0);
  });

  it('anonymous clients and wrong passwords are refused, and the password is never printed', async () => {
    const url = `nats://127.0.0.1:${port}`;
    const logger = createLogger('anon', 'silent');
    await expect(Bus.connect({ url, name: 'anon', logger })).rejects.toThrow(/refused the credentials|Authorization/);
    const wrong = 'definitely-wrong-password-123';
    const error = await Bus.connect({ url, name: 'wrong', logger, auth: { user: 'gateway', pass: wrong } }).catch(
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/refused the credentials/);
    expect((error as Error).message).not.toContain(wrong);
    const inUrl = await Bus.connect({ url: `nats://gateway:${wrong}@127.0.0.1:${port}`, name: 'url', logger }).catch(
      (e: unknown) => e as Error,
    );
    expect((inUrl as Error).message).not.toContain(wrong);
    expect((inUrl as Error).message).toContain('nats://***@127.0.0.1');
    // The right password in the URL works (it used to be ignored).
    const ok = await Bus.connect({
      url: `nats://gateway:${encodeURIComponent(credentials.gateway.NATS_PASSWORD!)}@127.0.0.1:${port}`,
      auth: { inboxPrefix: '_INBOX_gateway' },
      name: 'url-ok',
      namespace,
      logger,
    });
    buses.push(ok);
    expect(ok.isConnected).toBe(true);
  });
});

/** patchctl as operators run it: its bin, as the generated `ops` user, in this file's namespace. */
function patchctlAsOps(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['tools/patchctl/bin/patchctl.mjs', ...args],
      { cwd: repoRoot, env: { ...process.env, ...credentials.ops, NATS_URL: `nats://127.0.0.1:${port}` }, timeout: 100_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

// Last in the file: it starts a second workflow-slack and stops action-log.
describe('the instance ping (patchctl status lists every running instance)', () => {
  it('the matrix: every service may answer it, only ops may ask', () => {
    const t = new Topology(namespace);
    const matrix = busPermissions(t);
    for (const p of busPrincipals) {
      const service = p !== 'ops';
      expect(matrix[p].subscribe.includes(t.instancePing), p).toBe(service);
      expect(matrix[p].allowResponses, p).toBe(service);
      expect(matrix[p].publish.includes(t.instancePing), p).toBe(!service);
    }
  });

  it('ops sees each instance once: two workflow-slack processes and one of every other service', async () => {
    const slack2 = ServiceProcess.start('services/workflow-slack/src/main.ts', {
      NATS_URL: `nats://127.0.0.1:${port}`,
      LOG_LEVEL: 'info',
      WORKFLOW_DATABASE_URL: databases[2]!.url,
      ...fakes.slack.env,
      ...credentials['workflow-slack'],
    });
    processes['workflow-slack-2'] = slack2;
    await slack2.waitForLog(/workflow consuming work/, 150_000);

    const run = await patchctlAsOps([
      'status',
      '--json',
      '--health',
      'none',
      '--database-url',
      databases[0]!.url,
      '--fail-on-down',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const { instances } = JSON.parse(run.stdout) as {
      instances: { instances: InstancePing[]; missing: string[]; ignoredReplies: number };
    };
    expect(instances.missing).toEqual([]);
    expect(instances.ignoredReplies).toBe(0);
    const byService = (s: string) => instances.instances.filter((i) => i.service === s);
    for (const s of pingedServices) expect(byService(s).length, s).toBe(s === 'workflow-slack' ? 2 : 1);
    expect(new Set(instances.instances.map((i) => i.instanceId)).size).toBe(8);
    // Each reply is the process itself: its pid, its connection name.
    expect(
      byService('workflow-slack')
        .map((i) => i.pid)
        .sort(),
    ).toEqual([processes['workflow-slack']!.pid, slack2.pid].sort());
    expect(byService('gateway')[0]).toMatchObject({
      pid: processes.gateway!.pid,
      natsName: 'gateway',
      version: expect.any(String),
    });

    const text = await patchctlAsOps(['status', '--health', 'none', '--database-url', databases[0]!.url]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(
      /Instances \(answering the instance ping within 500 ms\)\nSERVICE\s+INSTANCE\s+HOST\s+PID\s+VERSION\s+UP\s+NATS NAME/,
    );
    expect(text.stdout).not.toContain('no instance answering');
  });

  it('a workflow or the gateway may not ask (only answer)', async () => {
    for (const p of ['workflow-slack', 'gateway'] as const) {
      await expect(pingInstances(await as(p), 300), p).rejects.toThrow(BusPermissionError);
    }
  });

  it('a stopped service shows as missing, and --fail-on-down exits 1 naming it', async () => {
    await processes['action-log']!.stop('SIGTERM');
    const common = ['status', '--health', 'none', '--database-url', databases[0]!.url, '--ping-wait', '1s'];
    const json = await patchctlAsOps([...common, '--json']);
    expect(json.code, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as { instances: { instances: InstancePing[]; missing: string[] } };
    expect(report.instances.missing).toEqual(['action-log']);
    expect(report.instances.instances.some((i) => i.service === 'action-log')).toBe(false);
    const text = await patchctlAsOps(common);
    expect(text.stdout).toContain('warning: no instance answering: action-log');
    const failing = await patchctlAsOps([...common, '--fail-on-down']);
    expect(failing.code).toBe(1);
    expect(failing.stderr.trim()).toMatch(/^patchctl: not ready: .*action-log \(no instance\)/);
    const bad = await patchctlAsOps([...common, '--ping-wait', 'soon']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe('patchctl: --ping-wait: "soon" is not a duration (e.g. 500ms, 2s, 5m, 1h)');
  });
});

describe('the workflow host: every hosted workflow as its own NATS user', () => {
  const hosted = ['successor', 'gitlab', 'jira', 'slack'] as const;
  let host: ServiceProcess;
  /** The variables of the workflows' processes above, without credentials: the host's shared environment. */
  const shared = () => ({
    NATS_URL: `nats://127.0.0.1:${port}`,
    LOG_LEVEL: 'info',
    WORKFLOW_DATABASE_URL: databases[2]!.url,
    WORKFLOW_RETRY_BASE_MS: '100',
    WORKFLOW_RETRY_MAX_MS: '1000',
    ...fakes.gitlab.env,
    ...fakes.jira.env,
    ...fakes.slack.env,
  });
  beforeAll(async () => {
    // The separate workflow processes make way: the host takes over their durable consumers.
    for (const [name, p] of Object.entries(processes)) if (name.startsWith('workflow-')) await p.stop('SIGTERM');
    // What `npm start -- --nats-credentials DIR` gives the host: the generated DIR/workflows.env,
    // each workflow's credentials under its prefix.
    host = ServiceProcess.start('services/workflows/src/main.ts', {
      ...shared(),
      ...readEnvFile(join(dir, 'workflows.env')),
    });
    processes.workflows = host;
    await host.waitForLog(/workflow host started/, 150_000);
  }, 200_000);

  it('runs all four under their own users: a startDeployment triggers the pipeline, moves the ticket, posts, opens the successor', async () => {
    const before = { pipelines: fakes.gitlab.pipelines.length, posts: fakes.slack.posts.length };
    const patch = await createActivePatch('2026.48.60');
    expect((await http('POST', `/api/patches/${patch.id}/start-deployment`)).status).toBe(200);
    // Each effect happened, so each workflow could consume its own durable and publish its own
    // events: the server refuses a workflow everything under another's user (tests above).
    await waitFor(
      async () =>
        fakes.gitlab.pipelines.length >= before.pipelines + 2 &&
        fakes.slack.posts.length >= before.posts + 2 &&
        (await http('GET', `/api/patches/${patch.id}`)).body.successorId !== null,
      { timeoutMs: 30_000, what: `every hosted workflow's effect (host log: ${host.logs.slice(-2000)})` },
    );
    expect(host.logs).not.toMatch(/Permissions Violation|permission/i);
  });

  it("each hosted workflow answers the instance ping as itself, with the host's pid", async () => {
    const { instances } = await pingInstances(await as('ops'), 500);
    for (const w of hosted) {
      expect(
        instances.filter((i) => i.service === `workflow-${w}`).map((i) => [i.pid, i.natsName]),
        w,
      ).toEqual([[host.pid, `workflow-${w}`]]);
    }
  });

  it("a hosted workflow given another's credentials does not start: exit 2, one line naming what was refused", async () => {
    const wrong = ServiceProcess.start('services/workflows/src/main.ts', {
      ...shared(),
      WORKFLOWS: 'gitlab',
      // gitlab under slack's user: it may not consume gitlab's durable.
      ...Object.fromEntries(
        Object.entries(credentials['workflow-slack']).map(([k, v]) => [`${ownVariablePrefix('gitlab')}${k}`, v]),
      ),
    });
    processes['workflows-wrong'] = wrong;
    expect(await wrong.exited).toBe(2);
    const said = wrong.logs.split('\n').filter((l) => l.startsWith('workflows: '));
    expect(said, wrong.logs.slice(-3000)).toHaveLength(1);
    expect(said[0]).toMatch(/^workflows: workflow-gitlab: this service's NATS user may not .*consumer workflow-gitlab/);
    expect(wrong.logs).not.toContain(credentials['workflow-slack'].NATS_PASSWORD);
  });
});
