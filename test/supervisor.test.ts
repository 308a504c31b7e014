import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bus } from '@patchflow/bus';
import { createLogger } from '@patchflow/log';
import {
  createTestDatabase,
  deleteNamespaceStreams,
  freePort,
  testNatsUrl,
  uniqueNamespace,
  waitFor,
  type TestDatabase,
} from '@patchflow/testing';
import { alive, freePortRange, NpmStart } from './start-helpers.js';

// The real `npm start` (npm → node, as a user runs it) in a private bus namespace, private
// databases and free ports, so it never meets a developer's running one or another test file.
const namespace = uniqueNamespace('sup');
const token = 'supervisor-test-token-0123456789';
let dbs: TestDatabase[] = [];
let env: Record<string, string>;
let gatewayPort: number;
let healthBase: number;
const started: NpmStart[] = [];
const seenPids = new Set<number>();

beforeAll(async () => {
  dbs = await Promise.all(['sup_ps', 'sup_al', 'sup_wf'].map((l) => createTestDatabase(l)));
  gatewayPort = await freePort();
  healthBase = await freePortRange(8);
  env = {
    BUS_NAMESPACE: namespace,
    DATABASE_URL: dbs[0]!.url,
    ACTION_LOG_DATABASE_URL: dbs[1]!.url,
    WORKFLOW_DATABASE_URL: dbs[2]!.url,
    GATEWAY_PORT: String(gatewayPort),
    HEALTH_PORT_BASE: String(healthBase),
    GATEWAY_TOKENS: `test:admin:${token}`,
    LOG_LEVEL: 'warn',
    // Work handed to a killed process's pull comes back after the ack wait: 5 s, not 30.
    WORKFLOW_ACK_WAIT_MS: '5000',
  };
});

afterAll(async () => {
  await Promise.all(started.map((s) => s.dispose()));
  // Whatever a failed test left behind.
  for (const pid of seenPids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  const bus = await Bus.connect({ url: testNatsUrl(), name: 'test', namespace, logger: createLogger('test', 'silent') });
  await deleteNamespaceStreams(bus);
  await bus.close();
  await Promise.all(dbs.map((d) => d.drop()));
});

function npmStart(args: string[] = [], options: { ownGroup?: boolean } = {}): NpmStart {
  const s = new NpmStart(args, env, options);
  started.push(s);
  return s;
}

interface HistoryEntry {
  action: string;
  executions: { workflow: string; status: string; finishedAt: string | null }[];
}

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`http://127.0.0.1:${gatewayPort}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: await res.json() };
}

function remember(pids: Record<string, number>): Record<string, number> {
  for (const p of Object.values(pids)) seenPids.add(p);
  return pids;
}

async function expectAllGone(pids: number[]): Promise<void> {
  await waitFor(() => pids.every((p) => !alive(p)), {
    timeoutMs: 40_000,
    what: `pids ${pids.filter(alive).join(', ')} to be gone`,
  });
}

describe('npm start supervises every service', () => {
  let run: NpmStart;
  let pids: Record<string, number>;

  it('prints the banner only once every service is ready: the first request after it succeeds', async () => {
    run = npmStart();
    await run.waitForOutput(/all 4 services are ready/);
    pids = remember(run.servicePids());
    // The four workflows run inside the workflow host, not as processes of their own.
    expect(Object.keys(pids).sort()).toEqual(['action-log', 'gateway', 'patch-status', 'workflows']);
    expect(run.output).toContain(`Action History UI: http://127.0.0.1:${gatewayPort}/`);
    // Right after the banner: the API answers from patch-status, not 503 "no service answers".
    const res = await api('GET', '/api/patches?limit=1');
    expect(res.status).toBe(200);
    for (const port of [0, 1, 6, 7].map((i) => healthBase + i)) {
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    }
    // The workflow-* health ports stay closed: nothing runs there.
    await expect(fetch(`http://127.0.0.1:${healthBase + 2}/readyz`)).rejects.toThrow();
    // Each service said it was ready before the banner.
    const banner = run.output.indexOf('all 4 services are ready');
    for (const name of Object.keys(pids)) expect(run.output.indexOf(`${name} ready (pid`)).toBeLessThan(banner);
  });

  it('restarts the workflow host killed with SIGKILL, and all four workflows run again: a transition taken while it was down settles', async () => {
    const patch = await api('POST', '/api/patches', { name: '2026.48.1', product: 'supervisor' });
    expect(patch.status).toBe(201);
    const id = (patch.body as { patch: { id: string } }).patch.id;
    expect((await api('POST', `/api/patches/${id}/mark-active`, {})).status).toBe(200);
    process.kill(pids['workflows']!, 'SIGKILL');
    // Taken while no workflow runs: its work waits in JetStream for the restarted host.
    expect((await api('POST', `/api/patches/${id}/start-deployment`, {})).status).toBe(200);
    await run.waitForOutput(/restarting workflows after SIGKILL \(1st time\) in 0\.5 s/, 20_000);
    await run.waitForOutput(/workflows ready again \(pid \d+\)/, 60_000);
    const after = remember(run.servicePids());
    expect(after['workflows']).toBeDefined();
    expect(after['workflows']).not.toBe(pids['workflows']);
    for (const [name, pid] of Object.entries(pids)) if (name !== 'workflows') expect(after[name]).toBe(pid);
    pids = after;
    const settled = await waitFor(
      async () => {
        const history = await api('GET', `/api/patches/${id}/history`);
        const entry = (history.body as { entries: HistoryEntry[] }).entries.find((e) => e.action === 'startDeployment');
        return entry?.executions.length === 4 && entry.executions.every((e) => e.finishedAt !== null) ? entry : undefined;
      },
      { timeoutMs: 60_000, what: 'the startDeployment taken while the host was down to settle' },
    );
    expect(settled.executions.map((e) => [e.workflow, e.status]).sort()).toEqual([
      ['gitlab', 'skipped'],
      ['jira', 'skipped'],
      ['slack', 'skipped'],
      ['successor', 'succeeded'],
    ]);
  }, 240_000);

  it('SIGTERM to the npm process stops every service: no pid survives', async () => {
    const all = [run.pid, run.runnerPid!, ...Object.values(pids)];
    run.signal('SIGTERM');
    await expectAllGone(all);
    await run.exited;
    expect(run.output).toMatch(/stopped gateway[\s\S]*stopped workflows[\s\S]*stopped patch-status/);
  });
});

describe('npm start -- --separate-workflows', () => {
  it('runs each workflow as its own process and restarts one killed with SIGKILL, leaving the others alone', async () => {
    const run = npmStart(['--separate-workflows']);
    await run.waitForOutput(/all 7 services are ready/);
    let pids = remember(run.servicePids());
    expect(Object.keys(pids).sort()).toEqual([
      'action-log',
      'gateway',
      'patch-status',
      'workflow-gitlab',
      'workflow-jira',
      'workflow-slack',
      'workflow-successor',
    ]);
    for (let i = 0; i < 7; i += 1) expect((await fetch(`http://127.0.0.1:${healthBase + i}/readyz`)).status).toBe(200);
    process.kill(pids['workflow-jira']!, 'SIGKILL');
    await run.waitForOutput(/restarting workflow-jira after SIGKILL \(1st time\) in 0\.5 s/, 20_000);
    await run.waitForOutput(/workflow-jira ready again \(pid \d+\)/, 60_000);
    const after = remember(run.servicePids());
    expect(after['workflow-jira']).not.toBe(pids['workflow-jira']);
    for (const [name, pid] of Object.entries(pids)) if (name !== 'workflow-jira') expect(after[name]).toBe(pid);
    pids = after;
    run.signal('SIGTERM');
    await expectAllGone([run.pid, ...Object.values(pids)]);
    // Seven processes starting from source on two cores, beside another test file: its waits add up
    // to more than the default 120 s, and each wait fails with npm start's output, not a bare timeout.
  }, 240_000);
});

describe('npm start stops', () => {
  it('on SIGINT to the npm process (Ctrl-C reaching npm): no pid survives', async () => {
    const run = npmStart(['--only', 'patch-status,workflow-slack']);
    await run.waitForOutput(/all 2 services are ready/);
    const pids = remember(run.servicePids());
    expect(Object.keys(pids).sort()).toEqual(['patch-status', 'workflow-slack']);
    const all = [run.pid, run.runnerPid!, ...Object.values(pids)];
    run.signal('SIGINT');
    await expectAllGone(all);
  });

  it("on Ctrl-C in a terminal (SIGINT to npm's process group): each service stops gracefully, in order", async () => {
    const run = npmStart(['--only', 'patch-status,workflow-slack'], { ownGroup: true });
    await run.waitForOutput(/all 2 services are ready/);
    const pids = remember(run.servicePids());
    const all = [run.pid, run.runnerPid!, ...Object.values(pids)];
    run.signalGroup('SIGINT');
    await expectAllGone(all);
    // Stopped with SIGTERM and waited for (npm's forwarded copy of the signal is not a "second Ctrl-C").
    expect(run.output).toMatch(/stopped workflow-slack[\s\S]*stopped patch-status/);
  });

  it('even when the supervisor itself is killed with SIGKILL: each service notices and stops', async () => {
    const run = npmStart(['--only', 'workflow-slack']);
    await run.waitForOutput(/workflow-slack is ready/);
    const pids = remember(run.servicePids());
    process.kill(run.runnerPid!, 'SIGKILL');
    await expectAllGone([run.pid, ...Object.values(pids)]);
  });

  it('when a service crash-loops: 5 exits within a minute end the run with one line', async () => {
    const run = npmStart(['--only', 'workflow-slack']);
    let last: number | undefined;
    for (let crash = 1; crash <= 5; crash += 1) {
      // Kill each incarnation as soon as it runs: ready or not, it counts as a crash.
      const pid = await waitFor(
        () => {
          const p = run.servicePids()['workflow-slack'];
          return p !== undefined && p !== last ? p : undefined;
        },
        { timeoutMs: 30_000, what: `workflow-slack incarnation ${crash}` },
      );
      seenPids.add(pid);
      process.kill(pid, 'SIGKILL');
      last = pid;
      if (crash < 5)
        await run.waitForOutput(
          new RegExp(`restarting workflow-slack after SIGKILL \\(${['1st', '2nd', '3rd', '4th'][crash - 1]} time\\)`),
          20_000,
        );
    }
    const { code } = await run.exited;
    expect(code).toBe(1);
    const lines = run.output.split('\n').filter((l) => /exited 5 times/.test(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^patchflow: workflow-slack exited 5 times within 60 s \(last: SIGKILL\).*; stopping everything$/);
    expect(run.output).not.toMatch(/is ready|services are ready/);
  });
});
