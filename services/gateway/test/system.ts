import { afterAll, beforeAll } from 'vitest';
import type { Bus } from '@patchflow/bus';
import { startActionLog } from '@patchflow/action-log';
import { startPatchStatus } from '@patchflow/patch-status';
import {
  connectTestBus,
  createTestDatabase,
  deleteNamespaceStreams,
  freePort,
  ServiceProcess,
  startFakes,
  testLogLevel,
  testNatsUrl,
  uniqueNamespace,
  type Fakes,
} from '@patchflow/testing';
import { startGitlabWorkflow } from '@patchflow/workflow-gitlab';
import { startJiraWorkflow } from '@patchflow/workflow-jira';
import { startSlackWorkflow } from '@patchflow/workflow-slack';
import { startSuccessorWorkflow } from '@patchflow/workflow-successor';
import { parseTokens, startGateway, TokenRegistry } from '../src/index.js';
import { client, GATEWAY_TOKENS } from './helpers.js';

/** A whole Patchflow behind one gateway URL, in its own databases and bus namespace. */
export interface System {
  url: string;
  namespace: string;
  bus: Bus;
  fakes: Fakes;
  stop(): Promise<void>;
}

const stopAll = async (stops: (() => Promise<unknown>)[]) => {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
};

async function prepare(label: string) {
  const [patchDb, logDb, workflowDb] = await Promise.all([
    createTestDatabase(`${label}_patch`),
    createTestDatabase(`${label}_log`),
    createTestDatabase(`${label}_wf`),
  ]);
  const namespace = uniqueNamespace(label);
  const bus = await connectTestBus(namespace);
  const fakes = await startFakes({ gitlab: { refs: ['main', 'release/2026.48'] } });
  const cleanup = [
    () => Promise.all([patchDb.drop(), logDb.drop(), workflowDb.drop()]),
    () => fakes.close(),
    async () => {
      await deleteNamespaceStreams(bus);
      await bus.drain();
    },
  ];
  return { patchDb, logDb, workflowDb, namespace, bus, fakes, cleanup };
}

/** Every service started in this process (fast; for the browser test). */
export async function startSystemInProcess(label: string): Promise<System> {
  const { patchDb, logDb, workflowDb, namespace, bus, fakes, cleanup } = await prepare(label);
  const stops: (() => Promise<unknown>)[] = [...cleanup];
  try {
    const common = { natsUrl: testNatsUrl(), namespace, logLevel: testLogLevel };
    const workflow = { ...common, databaseUrl: workflowDb.url, retry: { baseDelayMs: 100, maxDelayMs: 1000 } };
    const services = await Promise.all([
      startPatchStatus({ ...common, databaseUrl: patchDb.url }),
      startActionLog({ ...common, databaseUrl: logDb.url }),
      startSuccessorWorkflow(workflow),
      startGitlabWorkflow({
        ...workflow,
        gitlab: { url: fakes.gitlab.url, projectId: fakes.gitlab.projectId, triggerToken: fakes.gitlab.triggerToken },
      }),
      startJiraWorkflow({ ...workflow, jira: { url: fakes.jira.url, email: fakes.jira.email, apiToken: fakes.jira.apiToken } }),
      startSlackWorkflow({ ...workflow, webhookUrl: fakes.slack.webhookUrl }),
    ]);
    for (const s of services) stops.push(() => s.stop());
    const gateway = await startGateway({ ...common, tokens: new TokenRegistry(parseTokens(GATEWAY_TOKENS).tokens), port: 0 });
    stops.push(() => gateway.stop());
    return { url: gateway.url, namespace, bus, fakes, stop: () => stopAll(stops) };
  } catch (err) {
    await stopAll(stops);
    throw err;
  }
}

/** Every service as its own process, started from its main.ts with its environment. */
export async function startSystemAsProcesses(label: string): Promise<System & { processes: Record<string, ServiceProcess> }> {
  const { patchDb, logDb, workflowDb, namespace, bus, fakes, cleanup } = await prepare(label);
  const stops: (() => Promise<unknown>)[] = [...cleanup];
  const processes: Record<string, ServiceProcess> = {};
  try {
    const port = await freePort();
    const common = { NATS_URL: testNatsUrl(), BUS_NAMESPACE: namespace, LOG_LEVEL: 'info' };
    const workflow = {
      ...common,
      WORKFLOW_DATABASE_URL: workflowDb.url,
      WORKFLOW_RETRY_BASE_MS: '100',
      WORKFLOW_RETRY_MAX_MS: '1000',
    };
    const specs: [string, Record<string, string>, RegExp][] = [
      ['patch-status', { ...common, DATABASE_URL: patchDb.url }, /patch-status ready/],
      ['action-log', { ...common, ACTION_LOG_DATABASE_URL: logDb.url }, /action-log started/],
      ['workflow-successor', workflow, /workflow consuming work/],
      ['workflow-gitlab', { ...workflow, ...fakes.gitlab.env }, /workflow consuming work/],
      ['workflow-jira', { ...workflow, ...fakes.jira.env }, /workflow consuming work/],
      ['workflow-slack', { ...workflow, ...fakes.slack.env }, /workflow consuming work/],
      ['gateway', { ...common, GATEWAY_PORT: String(port), GATEWAY_TOKENS }, /gateway listening/],
    ];
    for (const [name, env] of specs) {
      const p = ServiceProcess.start(`services/${name}/src/main.ts`, env);
      processes[name] = p;
      stops.push(async () => {
        const code = await p.stop('SIGTERM');
        if (code !== 0) throw new Error(`${name} exited with ${code}:\n${p.logs.slice(-2000)}`);
      });
    }
    // Generous: seven cold tsx processes on a loaded 2-core machine can take a minute to start.
    await Promise.all(specs.map(([name, , ready]) => processes[name]!.waitForLog(ready, 150_000)));
    return { url: `http://127.0.0.1:${port}`, namespace, bus, fakes, processes, stop: () => stopAll(stops) };
  } catch (err) {
    await stopAll(stops);
    throw err;
  }
}

/**
 * The system of one test file: started by `start` before its first test (within `timeoutMs`),
 * with `jiraIssues` known to the fake Jira, and stopped after its last test unless a test stopped
 * it; `http` is a client of its gateway. Its fields are read once it started.
 */
export function systemPerFile(
  start: () => Promise<System>,
  options: { timeoutMs: number; jiraIssues?: string[] },
): System & { http: ReturnType<typeof client> } {
  let running: System | undefined;
  let http: ReturnType<typeof client> | undefined;
  let stopped: Promise<void> | undefined;
  beforeAll(async () => {
    running = await start();
    for (const key of options.jiraIssues ?? []) running.fakes.jira.addIssue(key);
    http = client(running.url);
  }, options.timeoutMs);
  afterAll(async () => {
    if (running && !stopped) await running.stop();
  }, 60_000);
  const started = () => {
    if (!running) throw new Error('systemPerFile: the system starts in beforeAll, not yet');
    return running;
  };
  return {
    get url() {
      return started().url;
    },
    get namespace() {
      return started().namespace;
    },
    get bus() {
      return started().bus;
    },
    get fakes() {
      return started().fakes;
    },
    http: (method, path, requestOptions) => {
      if (!http) throw new Error('systemPerFile: the system starts in beforeAll, not yet');
      return http(method, path, requestOptions);
    },
    stop: () => (stopped ??= started().stop()),
  };
}
