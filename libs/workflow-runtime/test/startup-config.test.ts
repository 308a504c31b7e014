import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '@patchflow/testing';

/**
 * A workflow service started as its own process (as `npm start` does) with a bad environment:
 * it must stop before connecting to anything, exit 2, and say what is wrong in one line that
 * names the variables and never prints a value.
 */
/** Whatever the test runner's environment holds of these, the service sees them unset (empty = unset). */
const unset = Object.fromEntries(
  [
    'JIRA_URL',
    'JIRA_EMAIL',
    'JIRA_API_TOKEN',
    'JIRA_STATUS_MAP',
    'GITLAB_URL',
    'GITLAB_PROJECT_ID',
    'GITLAB_TRIGGER_TOKEN',
    'SLACK_WEBHOOK_URL',
  ]
    .concat([
      'WORKFLOW_RETRY_BASE_MS',
      'WORKFLOW_RETRY_MAX_MS',
      'WORKFLOW_MAX_ATTEMPTS',
      'WORKFLOW_ACK_WAIT_MS',
      'WORKFLOW_RUNNING_EVENT_DELAY_MS',
    ])
    .map((name) => [name, '']),
);

function start(service: string, env: Record<string, string>): Promise<{ code: number | null; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', `services/${service}/src/main.ts`], {
      cwd: repoRoot,
      // Unreachable servers: a start that got past the environment would fail differently.
      env: {
        ...process.env,
        ...unset,
        NATS_URL: 'nats://127.0.0.1:1',
        WORKFLOW_DATABASE_URL: 'postgres://root@127.0.0.1:1/none',
        ...env,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, err: err.trim() });
    });
  });
}

/** The lines naming what is wrong (after `<service>: invalid environment:`). */
const problemLines = (service: string, err: string) => {
  const [header, ...rest] = err.split('\n');
  expect(header).toBe(`${service}: invalid environment:`);
  return rest.map((l) => l.trim());
};

describe('workflow services refuse a bad environment at start', () => {
  it.each(['workflow-slack', 'workflow-gitlab', 'workflow-jira', 'workflow-successor'])(
    '%s: a retry base delay above its cap is one line naming both variables',
    async (service) => {
      const r = await start(service, { WORKFLOW_RETRY_BASE_MS: '5000', WORKFLOW_RETRY_MAX_MS: '100' });
      expect(r.code).toBe(2);
      expect(problemLines(service, r.err)).toEqual([
        'WORKFLOW_RETRY_BASE_MS: must not exceed WORKFLOW_RETRY_MAX_MS (the first retry delay would be above its cap)',
      ]);
    },
  );

  it('workflow-slack: zero attempts is refused', async () => {
    const r = await start('workflow-slack', { WORKFLOW_MAX_ATTEMPTS: '0' });
    expect(r.code).toBe(2);
    expect(problemLines('workflow-slack', r.err)).toEqual([expect.stringMatching(/^WORKFLOW_MAX_ATTEMPTS: /)]);
  });

  it('workflow-gitlab: a running-event delay that is not a whole number of milliseconds is one line naming it', async () => {
    const r = await start('workflow-gitlab', { WORKFLOW_RUNNING_EVENT_DELAY_MS: 'soon' });
    expect(r.code).toBe(2);
    expect(problemLines('workflow-gitlab', r.err)).toEqual([expect.stringMatching(/^WORKFLOW_RUNNING_EVENT_DELAY_MS: /)]);
    const negative = await start('workflow-gitlab', { WORKFLOW_RUNNING_EVENT_DELAY_MS: '-1' });
    expect(problemLines('workflow-gitlab', negative.err)).toEqual([expect.stringMatching(/^WORKFLOW_RUNNING_EVENT_DELAY_MS: /)]);
  });

  it('workflow-jira: a partial set of credentials names what is missing, never the token', async () => {
    const r = await start('workflow-jira', {
      JIRA_URL: 'https://acme.example',
      JIRA_EMAIL: 'bot@acme.example',
      JIRA_API_TOKEN: '',
    });
    expect(r.code).toBe(2);
    expect(problemLines('workflow-jira', r.err)).toEqual([
      'JIRA_API_TOKEN: JIRA_URL and JIRA_EMAIL are set but JIRA_API_TOKEN is missing',
    ]);
    const secret = await start('workflow-jira', { JIRA_API_TOKEN: 'tok-SECRET-123' });
    expect(secret.code).toBe(2);
    expect(problemLines('workflow-jira', secret.err)).toEqual([
      'JIRA_URL: JIRA_API_TOKEN is set but JIRA_URL and JIRA_EMAIL are missing',
    ]);
    expect(secret.err).not.toContain('SECRET');
  });

  it('workflow-jira: a bad JIRA_STATUS_MAP names the bad entry (no stack trace), and bad JSON says so', async () => {
    const r = await start('workflow-jira', { JIRA_STATUS_MAP: '{"in_deployment":"Ready for QA","shipped":"Done","closed":""}' });
    expect(r.code).toBe(2);
    expect(problemLines('workflow-jira', r.err)).toEqual([
      'JIRA_STATUS_MAP: entry "shipped" is not a patch status (one of draft, active, in_deployment, deployed, deployment_failed, closed, cancelled)',
      'JIRA_STATUS_MAP: entry "closed" must map to a non-empty Jira status name',
    ]);
    const json = await start('workflow-jira', { JIRA_STATUS_MAP: '{in_deployment: QA' });
    expect(json.code).toBe(2);
    expect(problemLines('workflow-jira', json.err)).toEqual([
      'JIRA_STATUS_MAP: not valid JSON (expected an object of patch status → Jira status name)',
    ]);
  });

  it('workflow-gitlab: a partial set of credentials names what is missing, never the token', async () => {
    const r = await start('workflow-gitlab', { GITLAB_TRIGGER_TOKEN: 'glptt-SECRET', GITLAB_PROJECT_ID: '42' });
    expect(r.code).toBe(2);
    expect(problemLines('workflow-gitlab', r.err)).toEqual([
      'GITLAB_URL: GITLAB_PROJECT_ID and GITLAB_TRIGGER_TOKEN are set but GITLAB_URL is missing',
    ]);
    expect(r.err).not.toContain('SECRET');
  });
});
