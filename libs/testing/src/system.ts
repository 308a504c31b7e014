import { randomUUID } from 'node:crypto';
import { ownVariablePrefix } from '@patchflow/config';
import { workflowNames, workflowsFor, type ActionName } from '@patchflow/contracts';
import { FakeGitlab } from './fakes/fake-gitlab.js';
import { FakeSlack } from './fakes/fake-slack.js';
import { freePort, ServiceProcess, waitFor } from './processes.js';

export const systemServices = [
  'patch-status',
  'action-log',
  'workflow-successor',
  'workflow-gitlab',
  'workflow-jira',
  'workflow-slack',
  'gateway',
] as const;
export type SystemService = (typeof systemServices)[number];
/** The workflow services, which the workflow host (services/workflows) can run in one process. */
const isHosted = (s: SystemService): boolean => s.startsWith('workflow-');
/** A process of the system: a service, or the workflow host. */
export type SystemProcess = SystemService | 'workflows';

const READY: Record<SystemProcess, RegExp> = {
  'patch-status': /patch-status ready/,
  'action-log': /action-log started/,
  'workflow-successor': /workflow consuming work/,
  'workflow-gitlab': /workflow consuming work/,
  'workflow-jira': /workflow consuming work/,
  'workflow-slack': /workflow consuming work/,
  gateway: /gateway listening/,
  workflows: /workflow host started/,
};

export interface SystemOptions {
  natsUrl: string;
  namespace: string;
  /** Postgres of patch-status, of the action-log and of the workflows (created by the services). */
  databases: { patchStatus: string; actionLog: string; workflows: string };
  /** Variables every service gets (e.g. STREAM_REPLICAS). */
  env?: Record<string, string>;
  /** Variables of one service only, e.g. its NATS credentials from `npm run nats:config`. */
  envOf?: (service: SystemService) => Record<string, string>;
  /** How each service process runs (node flags, from `dist/`): see `ServiceProcess.start`. */
  run?: { nodeArgs?: string[]; fromDist?: boolean; root?: string; serviceFlags?: readonly string[] };
  /**
   * Run the four workflows in one process, the workflow host, as `npm start` does (default: each
   * its own process). `envOf` of a workflow then reaches the host as that workflow's own
   * variables (`WORKFLOW_<NAME>__*`).
   */
  workflowHost?: boolean;
}

export interface HttpReply {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests assert field by field
  body: any;
  /** Response headers, lower-case names. */
  headers: Record<string, string>;
}

/**
 * The whole system, each service its own process (as `npm start -- --separate-workflows` runs
 * it; with `workflowHost`, the four workflows in one, as `npm start` does), with fake GitLab and
 * Slack (Jira left unconfigured: it succeeds as `skipped: not configured`), driven over HTTP.
 */
export class RunningSystem {
  private constructor(
    /** The running processes: every service, or with `workflowHost` the host in place of the workflows. */
    readonly processes: Partial<Record<SystemProcess, ServiceProcess>>,
    readonly gatewayUrl: string,
    readonly gitlab: FakeGitlab,
    readonly slack: FakeSlack,
    private readonly token: string,
  ) {}

  static async start(options: SystemOptions): Promise<RunningSystem> {
    const [gitlab, slack, gatewayPort] = await Promise.all([FakeGitlab.start(), FakeSlack.start(), freePort()]);
    const token = `system-admin-${randomUUID()}`;
    const common = { NATS_URL: options.natsUrl, BUS_NAMESPACE: options.namespace, LOG_LEVEL: 'info', ...options.env };
    // Quick retries, and a short ack wait (the runtime heartbeats long handlers), so work delayed
    // by an outage or a delivery lost with a NATS node settles soon after.
    const workflow = {
      ...common,
      WORKFLOW_DATABASE_URL: options.databases.workflows,
      WORKFLOW_RETRY_BASE_MS: '100',
      WORKFLOW_RETRY_MAX_MS: '1000',
      WORKFLOW_ACK_WAIT_MS: '5000',
    };
    const env: Record<SystemService, Record<string, string>> = {
      'patch-status': {
        ...common,
        DATABASE_URL: options.databases.patchStatus,
        OUTBOX_RELAY_INTERVAL_MS: '250',
        OUTBOX_RELAY_GRACE_MS: '1000',
      },
      'action-log': {
        ...common,
        ACTION_LOG_DATABASE_URL: options.databases.actionLog,
        ACTION_LOG_RETRY_BASE_MS: '100',
        ACTION_LOG_RETRY_MAX_MS: '1000',
      },
      'workflow-successor': workflow,
      'workflow-gitlab': { ...workflow, ...gitlab.env },
      'workflow-jira': workflow,
      'workflow-slack': { ...workflow, ...slack.env },
      // The load is one token hammering the API: no rate limit (a 429 is not what these tests study).
      gateway: {
        ...common,
        GATEWAY_PORT: String(gatewayPort),
        GATEWAY_TOKENS: `admin:admin:${token}`,
        GATEWAY_RATE_LIMIT_MAX: '0',
      },
    };
    const envOf = (name: SystemProcess): Record<string, string> => {
      if (name !== 'workflows') return { ...env[name], ...options.envOf?.(name) };
      // One environment for the host: the workflows' shared one, and each workflow's own under its prefix.
      const own = workflowNames.flatMap((w) =>
        Object.entries({ ...env[`workflow-${w}`], ...options.envOf?.(`workflow-${w}`) })
          .filter(([k, v]) => workflow[k as keyof typeof workflow] !== v)
          .map(([k, v]) => [`${ownVariablePrefix(w)}${k}`, v]),
      );
      return { ...workflow, ...Object.fromEntries(own) };
    };
    const processes: Partial<Record<SystemProcess, ServiceProcess>> = {};
    const rest = systemServices.filter((s) => s !== 'patch-status' && s !== 'action-log');
    // patch-status first: it migrates its database and the successor workflow calls it.
    try {
      for (const group of [
        ['patch-status', 'action-log'],
        options.workflowHost ? [...rest.filter((s) => !isHosted(s)), 'workflows'] : rest,
      ] as SystemProcess[][]) {
        for (const name of group)
          processes[name] = ServiceProcess.start(`services/${name}/src/main.ts`, envOf(name), options.run);
        await Promise.all(group.map((name) => processes[name]!.waitForLog(READY[name], 90_000)));
      }
    } catch (err) {
      // Nothing outlives a failed start: the processes that did start would hold ports and consumers.
      await Promise.all(Object.values(processes).map((p) => p.stop('SIGKILL')));
      await Promise.all([gitlab.close(), slack.close()]);
      throw err;
    }
    return new RunningSystem(processes, `http://127.0.0.1:${gatewayPort}`, gitlab, slack, token);
  }

  async http(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpReply> {
    const res = await fetch(`${this.gatewayUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: kept as text
    }
    return { status: res.status, body: parsed, headers: Object.fromEntries(res.headers) };
  }

  /** The process that runs `service`: its own, or the workflow host. */
  processOf(service: SystemService): ServiceProcess {
    const p = this.processes[service] ?? (isHosted(service) ? this.processes.workflows : undefined);
    if (!p) throw new Error(`${service} is not running in this system`);
    return p;
  }

  private running(): [SystemProcess, ServiceProcess][] {
    return Object.entries(this.processes) as [SystemProcess, ServiceProcess][];
  }

  /** Processes that have exited (with their last log lines), for an assertion message. */
  dead(): string[] {
    return this.running()
      .filter(([, p]) => p.exitCode !== null)
      .map(([name, p]) => `${name} exited ${String(p.exitCode)}: ${p.logs.slice(-1500)}`);
  }

  /** What went wrong, per process: dead processes and the last warnings and errors (for failure messages). */
  diagnose(max = 5): string {
    return this.running()
      .map(([name, p]) => {
        const lines = p.logs
          .split('\n')
          .filter((l) => /"level":(40|50|60)|Error|uncaught/i.test(l))
          .slice(-max)
          .map((l) => `    ${l.slice(0, 400)}`);
        return `  ${name}${p.exitCode !== null ? ` EXITED ${String(p.exitCode)}` : ''}\n${lines.join('\n')}`;
      })
      .join('\n');
  }

  /** Lines of a service's log matching `pattern` (the last `max`); in the host, of the host's log. */
  logLines(service: SystemService, pattern: RegExp, max = 10): string[] {
    return this.processOf(service)
      .logs.split('\n')
      .filter((l) => pattern.test(l))
      .slice(-max);
  }

  async stop(): Promise<void> {
    for (const [, p] of this.running().reverse()) await p.stop('SIGTERM');
    await Promise.all([this.gitlab.close(), this.slack.close()]);
  }
}

/** A transition that returned success over HTTP. */
export interface AcceptedTransition {
  patchId: string;
  action: ActionName;
  workId: string;
}

const PATH: Record<string, string> = {
  markActive: 'mark-active',
  startDeployment: 'start-deployment',
  completeDeployment: 'complete-deployment',
  close: 'close',
};
const LIFE: ActionName[] = ['markActive', 'startDeployment', 'completeDeployment', 'close'];

/**
 * Steady load over HTTP: `workers` loops, each creating a patch and taking it through markActive,
 * startDeployment, completeDeployment and close. Every request carries an Idempotency-Key, so a
 * request that failed (503, 504, a dropped connection) is simply sent again until it succeeds —
 * what a careful client does — and a repeat never writes twice. Each patch's history is read once
 * on the way. Records every success and every failure status.
 */
export class TransitionLoad {
  readonly accepted = new Map<string, AcceptedTransition>();
  readonly createdPatches = new Set<string>();
  /** HTTP status (or `network`) → how many requests failed with it. */
  readonly failures = new Map<string, number>();
  /** The first failure of each status other than 503/504: method, path and body (for the report). */
  readonly unexpected = new Map<string, string>();
  private stopping = false;
  private readonly loops: Promise<void>[] = [];

  constructor(
    private readonly system: RunningSystem,
    private readonly product: string,
  ) {}

  /** `paceMs`: a pause after each accepted transition, to keep the rate modest (the point is the fault). */
  start(workers: number, { paceMs = 0 } = {}): void {
    for (let i = 0; i < workers; i += 1) this.loops.push(this.loop(i, paceMs));
  }

  /** Lets every worker finish the request it is retrying (so each patch ends in a known state). */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
  }

  get failureCount(): number {
    return [...this.failures.values()].reduce((a, b) => a + b, 0);
  }

  private async loop(worker: number, paceMs: number): Promise<void> {
    for (let n = 0; !this.stopping; n += 1) {
      // `w1-7.1`: its successor `w1-7.2` can never be the name of another patch of this load.
      const created = await this.untilOk(
        'POST',
        '/api/patches',
        { name: `w${worker + 1}-${n + 1}.1`, product: this.product },
        randomUUID(),
      );
      const patchId = created.patch.id as string;
      this.createdPatches.add(patchId);
      for (const action of LIFE) {
        const result = await this.untilOk('POST', `/api/patches/${patchId}/${PATH[action]}`, undefined, `${patchId}:${action}`);
        this.accepted.set(result.transition.workId as string, { patchId, action, workId: result.transition.workId as string });
        // A reader too: the history comes from the action-log, which must answer through an outage as well.
        if (action === 'markActive') await this.untilOk('GET', `/api/patches/${patchId}/history`, undefined, randomUUID());
        if (paceMs > 0) await new Promise((r) => setTimeout(r, paceMs));
        if (this.stopping && action === 'startDeployment') break;
      }
    }
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the reply body, read by field
  private async untilOk(method: string, path: string, body: unknown, key: string): Promise<any> {
    for (;;) {
      const reply = await this.system
        .http(method, path, body, { 'idempotency-key': key })
        .catch(() => ({ status: 'network', body: undefined }));
      if (reply.status === 200 || reply.status === 201) return reply.body;
      const status = String(reply.status);
      this.failures.set(status, (this.failures.get(status) ?? 0) + 1);
      if (status !== '503' && status !== '504' && !this.unexpected.has(status)) {
        this.unexpected.set(status, `${method} ${path}: ${JSON.stringify(reply.body)?.slice(0, 500)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/**
 * Waits until every accepted transition is settled in the action history — each routed workflow's
 * execution in a final state — and returns the work items that did not succeed (none expected).
 */
export async function waitForSettled(
  system: RunningSystem,
  accepted: Iterable<AcceptedTransition>,
  timeoutMs = 60_000,
): Promise<void> {
  const pending = new Map([...accepted].map((a) => [a.workId, a]));
  // Final and good: succeeded, or skipped (a workflow with nothing to do, e.g. not configured).
  const settled = (a: AcceptedTransition, executions: { workflow: string; status: string }[]) =>
    workflowsFor(a.action).every((w) =>
      executions.some((e) => e.workflow === w && (e.status === 'succeeded' || e.status === 'skipped')),
    );
  const checkPatch = async (patchId: string) => {
    // One history read covers every transition of the patch.
    const reply = await system.http('GET', `/api/patches/${patchId}/history?limit=200`);
    if (reply.status !== 200) return;
    for (const entry of (reply.body.entries ?? []) as { workId: string; executions: { workflow: string; status: string }[] }[]) {
      const a = pending.get(entry.workId);
      if (a && settled(a, entry.executions)) pending.delete(a.workId);
    }
  };
  await waitFor(
    async () => {
      const patches = [...new Set([...pending.values()].map((a) => a.patchId))];
      for (let i = 0; i < patches.length; i += 8) await Promise.all(patches.slice(i, i + 8).map(checkPatch));
      return pending.size === 0;
    },
    { timeoutMs, intervalMs: 500, what: `every accepted transition to settle` },
  ).catch(async (err: unknown) => {
    const first = [...pending.values()][0];
    const body = first ? JSON.stringify((await system.http('GET', `/api/work/${first.workId}`)).body).slice(0, 1500) : '';
    const sample = [...pending.values()].slice(0, 5).map((a) => `${a.action} ${a.workId}`);
    throw new Error(
      `${pending.size} accepted transitions did not settle (e.g. ${sample.join(', ')})\n${body}\n${system.diagnose()}`,
      { cause: err },
    );
  });
}
