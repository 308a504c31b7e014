/**
 * `patchctl status` over npm start's health ports (`--health-base`), in both of its layouts: the
 * four workflows in the workflow host (the default) or each in its own process
 * (--separate-workflows). The other services run as their own processes on their npm start ports,
 * so `--fail-on-down` has nothing else to find.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestDatabase,
  fileScope,
  freePort,
  freePortRange,
  ServiceProcess,
  testNatsUrl,
  waitFor,
  type TestDatabase,
} from '@patchflow/testing';
import { npmStartServices, type ServiceRow } from '../src/commands/status.js';
import { at, patchctl } from './fixtures.js';

type NpmStartService = (typeof npmStartServices)[number];
const workflowServices = ['workflow-gitlab', 'workflow-jira', 'workflow-slack', 'workflow-successor'] as const;

const scope = fileScope({ namespace: 'ctlhealth' });
let base: number;
let databases: Record<'patchStatus' | 'actionLog' | 'workflows', TestDatabase>;
const running: ServiceProcess[] = [];

/** A service's health port under npm start's scheme from `base`. */
const portOf = (service: NpmStartService) => base + npmStartServices.indexOf(service);
const urlOf = (service: NpmStartService) => `http://127.0.0.1:${portOf(service)}`;

async function readyOn(service: NpmStartService, proc: ServiceProcess): Promise<void> {
  await waitFor(async () => (await fetch(`${urlOf(service)}/readyz`).catch(() => undefined))?.status === 200, {
    timeoutMs: 90_000,
    what: `${service} ready on ${urlOf(service)}`,
  }).catch((err: Error) => {
    throw new Error(`${err.message}; its log ends: ${proc.logs.slice(-1500)}`, { cause: err });
  });
}

/** Starts `services/<dir>/src/main.ts` on `service`'s health port and waits until it answers ready. */
async function start(service: NpmStartService, env: Record<string, string>): Promise<ServiceProcess> {
  const proc = ServiceProcess.start(`services/${service}/src/main.ts`, {
    NATS_URL: testNatsUrl(),
    BUS_NAMESPACE: scope.namespace,
    HEALTH_PORT: String(portOf(service)),
    ...env,
  });
  running.push(proc);
  await readyOn(service, proc);
  return proc;
}

const workflowEnv = () => ({ WORKFLOW_DATABASE_URL: databases.workflows.url });

beforeAll(async () => {
  base = await freePortRange(npmStartServices.length);
  const [patchStatus, actionLog, workflows] = await Promise.all(
    ['ctl_health_ps', 'ctl_health_al', 'ctl_health_wf'].map((label) => createTestDatabase(label)),
  );
  databases = { patchStatus: patchStatus!, actionLog: actionLog!, workflows: workflows! };
  // patch-status first: it migrates, and the gateway is ready only once patch-status answers.
  await start('patch-status', { DATABASE_URL: databases.patchStatus.url });
  await Promise.all([
    start('action-log', { ACTION_LOG_DATABASE_URL: databases.actionLog.url }),
    start('gateway', { GATEWAY_PORT: String(await freePort()), GATEWAY_TOKENS: 'admin:admin:status-health-token' }),
  ]);
});

afterAll(async () => {
  await Promise.all(running.map((p) => p.stop()));
  await Promise.all(Object.values(databases ?? {}).map((db) => db.drop()));
});

/** `patchctl status` on npm start's health ports from `base`, every other check at this file's services. */
const status = (...args: string[]) =>
  patchctl([
    'status',
    ...at(scope.namespace),
    '--database-url',
    databases.patchStatus.url,
    '--health-base',
    String(base),
    '--ping-wait',
    '1s',
    ...args,
  ]);

const servicesOf = (stdout: string): ServiceRow[] => (JSON.parse(stdout) as { services: ServiceRow[] }).services;
/** The row `status --json` gives `service` on its npm start port. */
const row = (service: NpmStartService, state: ServiceRow['state'], reason?: string): ServiceRow => ({
  service,
  url: urlOf(service),
  state,
  ...(reason === undefined ? {} : { reason }),
});

describe('patchctl status on npm start health ports', () => {
  it('workflow host layout: the workflow-* ports closed while the host answers are "in workflows", not down', async () => {
    const host = await start('workflows', workflowEnv());
    try {
      const run = await status('--fail-on-down', '--json');
      expect(run.code, run.stderr).toBe(0);
      const inHost = `no answer on its own port; it runs in the workflow host (${urlOf('workflows')})`;
      expect(servicesOf(run.stdout)).toEqual([
        row('patch-status', 'ready'),
        row('action-log', 'ready'),
        ...workflowServices.map((s) => row(s, 'in workflows', inHost)),
        row('gateway', 'ready'),
        row('workflows', 'ready'),
      ]);

      const text = await status('--fail-on-down');
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toMatch(
        new RegExp(`^workflow-jira +${urlOf('workflow-jira')} +in workflows +no answer on its own port`, 'm'),
      );
      expect(text.stdout).toMatch(new RegExp(`^workflows +${urlOf('workflows')} +ready`, 'm'));

      // Explicit targets are reported as probed: a closed port is down, whatever else answers.
      const explicit = await status(
        '--health',
        `workflow-jira=${portOf('workflow-jira')},workflows=${portOf('workflows')}`,
        '--fail-on-down',
        '--json',
      );
      expect(explicit.code).toBe(1);
      expect(servicesOf(explicit.stdout)).toEqual([
        { service: 'workflow-jira', url: urlOf('workflow-jira'), state: 'down', reason: 'no answer on its health port' },
        { service: 'workflows', url: urlOf('workflows'), state: 'ready' },
      ]);
      expect(explicit.stderr.trim()).toBe('patchctl: not ready: workflow-jira');
    } finally {
      await host.stop();
    }
  });

  it('no workflow answering, neither on its own port nor in the host: every workflow-* and the host are down', async () => {
    const run = await status('--fail-on-down', '--json');
    expect(run.code).toBe(1);
    const neither = `no answer on its health port, nor on the workflow host's (${urlOf('workflows')})`;
    expect(servicesOf(run.stdout)).toEqual([
      row('patch-status', 'ready'),
      row('action-log', 'ready'),
      ...workflowServices.map((s) => row(s, 'down', neither)),
      row('gateway', 'ready'),
      row('workflows', 'down', 'no answer on its health port'),
    ]);
    expect(run.stderr).toMatch(
      /^patchctl: not ready: workflow-gitlab, workflow-jira, workflow-slack, workflow-successor, workflows, /,
    );
  });

  it('separate layout: the host\'s port closed while the workflow-* answer is "not used"; a workflow missing from both is down', async () => {
    const workflows = await Promise.all(workflowServices.map(async (s) => [s, await start(s, workflowEnv())] as const));
    try {
      const run = await status('--fail-on-down', '--json');
      expect(run.code, run.stderr).toBe(0);
      const separate = `the workflows run as their own processes (${workflowServices.join(', ')})`;
      expect(servicesOf(run.stdout)).toEqual([
        row('patch-status', 'ready'),
        row('action-log', 'ready'),
        ...workflowServices.map((s) => row(s, 'ready')),
        row('gateway', 'ready'),
        row('workflows', 'not used', separate),
      ]);

      // workflow-jira stops: it is down (the host does not run it either); the host is still not used.
      await workflows.find(([s]) => s === 'workflow-jira')![1].stop();
      const jiraGone = await status('--fail-on-down', '--json');
      expect(jiraGone.code).toBe(1);
      const rows = servicesOf(jiraGone.stdout);
      expect(rows.find((r) => r.service === 'workflow-jira')).toEqual(
        row('workflow-jira', 'down', `no answer on its health port, nor on the workflow host's (${urlOf('workflows')})`),
      );
      expect(rows.find((r) => r.service === 'workflows')).toEqual(
        row(
          'workflows',
          'not used',
          'the workflows run as their own processes (workflow-gitlab, workflow-slack, workflow-successor)',
        ),
      );
      expect(jiraGone.stderr).toMatch(/^patchctl: not ready: workflow-jira, /);
      expect(jiraGone.stderr).not.toMatch(/\bworkflows\b/);
    } finally {
      await Promise.all(workflows.map(([, p]) => p.stop()));
    }
  });
});
