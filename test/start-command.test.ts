import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bus } from '@patchflow/bus';
import { createLogger } from '@patchflow/log';
import {
  createTestDatabase,
  deleteNamespaceStreams,
  freePort,
  repoRoot,
  testDatabaseServerUrl,
  testNatsUrl,
  uniqueNamespace,
  type TestDatabase,
} from '@patchflow/testing';
import { npmStartServices } from '../tools/patchctl/src/commands/status.js';
import { freePortRange, runStart } from './start-helpers.js';

/** Free ports for every run, so none of them meets a developer's running `npm start`. */
let ports: Record<string, string>;
beforeAll(async () => {
  ports = { GATEWAY_PORT: String(await freePort()), HEALTH_PORT_BASE: String(await freePortRange(8)) };
});

const start = (env: Record<string, string>, args: string[] = []) => runStart(args, { ...ports, ...env });

async function listenOn(port: number): Promise<Server> {
  const srv = createServer().listen(port, '127.0.0.1');
  await new Promise((r) => srv.once('listening', r));
  return srv;
}

describe('npm start when a server is missing', () => {
  it('names the Postgres URL and how to start it, in one line', async () => {
    const port = await freePort();
    const r = start({ DATABASE_URL: `postgres://root@127.0.0.1:${port}/patchflow` });
    expect(r.code).toBe(1);
    expect(r.err.split('\n')).toHaveLength(1);
    expect(r.err).toContain(`127.0.0.1:${port}`);
    expect(r.err).toMatch(/Postgres is not reachable.*pg_ctlcluster.*docker compose up/);
  });

  it('names the NATS URL and how to start it, in one line', async () => {
    const port = await freePort();
    const r = start({ DATABASE_URL: testDatabaseServerUrl(), NATS_URL: `nats://127.0.0.1:${port}` });
    expect(r.code).toBe(1);
    expect(r.err.split('\n')).toHaveLength(1);
    expect(r.err).toMatch(new RegExp(`NATS is not reachable at nats://127.0.0.1:${port}.*nats-server.*docker compose up`));
  });

  it('names a malformed variable without printing its value, in one line, exit 2', () => {
    const r = start({ LOG_LEVEL: 'loud', NATS_URL: 'http://secret-host:1' });
    expect(r.code).toBe(2);
    expect(r.err.split('\n')).toHaveLength(1);
    expect(r.err).toContain('LOG_LEVEL');
    expect(r.err).toContain('NATS_URL');
    expect(r.err).not.toContain('secret-host');
  });
});

describe('npm start on a bad command line or a busy port: one line, exit 2, nothing started', () => {
  it('an unknown --only name, alone or among good ones, names it and the choices', () => {
    for (const only of ['foo', 'gateway,foo']) {
      const r = start({}, ['--only', only]);
      expect(r.code).toBe(2);
      expect(r.err).toBe(
        'patchflow: --only: no service named "foo"; choose from patch-status, action-log, workflow-gitlab, workflow-jira, workflow-slack, workflow-successor, gateway, workflows',
      );
      expect(r.out).toBe('');
    }
  });

  it('an unknown flag, or a flag without its value', () => {
    const bogus = start({}, ['--bogus']);
    expect(bogus.code).toBe(2);
    expect(bogus.err).toBe(
      'patchflow: unknown option "--bogus"; the options are --only, --separate-workflows, --nats-credentials and --help (npm start -- --help)',
    );
    const empty = start({}, ['--only']);
    expect(empty.code).toBe(2);
    expect(empty.err).toBe('patchflow: --only needs a value (see npm start -- --help)');
  });

  it('the workflow host and one of its workflows, or --only with --separate-workflows: names the clash', () => {
    const both = start({}, ['--only', 'workflows,workflow-jira']);
    expect(both.code).toBe(2);
    expect(both.err).toBe('patchflow: --only: workflows already runs workflow-jira; name either the host or the workflows');
    const mixed = start({}, ['--only', 'gateway', '--separate-workflows']);
    expect(mixed.code).toBe(2);
    expect(mixed.err).toMatch(/^patchflow: --only and --separate-workflows do not go together/);
    expect(both.out + mixed.out).toBe('');
  });

  it('a wrong WORKFLOWS is one line naming it and the choices, before anything starts', () => {
    const r = start({ WORKFLOWS: 'gitlab,nope' });
    expect(r.code).toBe(2);
    expect(r.err).toBe(
      'patchflow: invalid environment: WORKFLOWS: no workflow named "nope"; choose from successor, gitlab, jira, slack',
    );
    expect(r.out).not.toMatch(/starting/);
  });

  it('the gateway port in use (a second npm start) names the port and the fix', async () => {
    const srv = await listenOn(Number(ports.GATEWAY_PORT));
    try {
      const r = start({});
      expect(r.code).toBe(2);
      expect(r.err).toBe(
        `patchflow: port ${ports.GATEWAY_PORT} (GATEWAY_PORT) is in use on 127.0.0.1: is another npm start running? Stop it, or set GATEWAY_PORT to a free port`,
      );
      expect(r.out).toBe('');
    } finally {
      srv.close();
    }
  });

  it('a health port in use names the port, its service and the fix', async () => {
    const hostPort = Number(ports.HEALTH_PORT_BASE) + 7;
    const srv = await listenOn(hostPort);
    try {
      const r = start({});
      expect(r.code).toBe(2);
      expect(r.err).toMatch(
        new RegExp(
          `^patchflow: port ${hostPort} \\(the health port of workflows\\) is in use on 127\\.0\\.0\\.1: .*HEALTH_PORT_BASE`,
        ),
      );
      expect(r.err.split('\n')).toHaveLength(1);
      // With --separate-workflows the workflows' own ports are checked instead.
      const jiraPort = Number(ports.HEALTH_PORT_BASE) + 3;
      const jira = await listenOn(jiraPort);
      try {
        const separate = start({}, ['--separate-workflows']);
        expect(separate.code).toBe(2);
        expect(separate.err).toContain(`port ${jiraPort} (the health port of workflow-jira) is in use`);
      } finally {
        jira.close();
      }
    } finally {
      srv.close();
    }
  });
});

describe('npm start -- --help', () => {
  it('answers at once with the options and the health ports', () => {
    const r = start({}, ['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Usage: npm start/);
    expect(r.out).toMatch(new RegExp(`${ports.HEALTH_PORT_BASE}\\s+patch-status`));
    expect(r.out).toMatch(new RegExp(`${Number(ports.HEALTH_PORT_BASE) + 6}\\s+gateway`));
    expect(r.out).toMatch(new RegExp(`${Number(ports.HEALTH_PORT_BASE) + 7}\\s+workflows`));
    expect(r.out).toMatch(/--separate-workflows/);
    // patchctl status probes the same ports by the same order: the two lists must agree.
    const listed = [...r.out.matchAll(/^ {2}(\d+)\s+([a-z-]+)( \(.*\))?$/gm)].map((m) => m[2]);
    expect(listed).toEqual([...npmStartServices]);
  });

  it('installs nothing, even in a checkout without node_modules (and --only is checked before any install)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pf-start-'));
    try {
      mkdirSync(join(dir, 'scripts'));
      for (const f of ['start.mjs', 'dependencies.mjs']) copyFileSync(join(repoRoot, 'scripts', f), join(dir, 'scripts', f));
      mkdirSync(join(dir, 'services', 'patch-status', 'src'), { recursive: true });
      writeFileSync(join(dir, 'services', 'patch-status', 'src', 'main.ts'), '');
      writeFileSync(join(dir, 'package.json'), '{ "name": "empty", "private": true }');
      const env = { ...process.env };
      delete env.PATCHFLOW_NO_INSTALL;
      const help = spawnSync(process.execPath, ['scripts/start.mjs', '--help'], {
        cwd: dir,
        env,
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(help.status).toBe(0);
      expect(help.stdout).toMatch(/9101\s+patch-status/);
      const only = spawnSync(process.execPath, ['scripts/start.mjs', '--only', 'foo'], {
        cwd: dir,
        env,
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(only.status).toBe(2);
      expect(only.stderr).toMatch(/no service named "foo"; choose from patch-status/);
      expect(existsSync(join(dir, 'node_modules'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('npm start installs only when it must, and never drops the dev dependencies', () => {
  it('runs npm install --include=dev (even with NODE_ENV=production) when node_modules is missing, saying so; not when it is current', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pf-install-'));
    try {
      mkdirSync(join(dir, 'scripts'));
      for (const f of ['start.mjs', 'dependencies.mjs']) copyFileSync(join(repoRoot, 'scripts', f), join(dir, 'scripts', f));
      mkdirSync(join(dir, 'services', 'patch-status', 'src'), { recursive: true });
      writeFileSync(join(dir, 'services', 'patch-status', 'src', 'main.ts'), '');
      writeFileSync(join(dir, 'package.json'), '{ "name": "empty", "private": true }');
      writeFileSync(join(dir, 'package-lock.json'), '{}');
      // A stand-in npm that records how it was called and "installs".
      mkdirSync(join(dir, 'bin'));
      writeFileSync(
        join(dir, 'bin', 'npm'),
        '#!/bin/sh\necho "$@" >> npm-calls\nmkdir -p node_modules && touch node_modules/.package-lock.json\n',
        { mode: 0o755 },
      );
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        ...ports,
        NODE_ENV: 'production',
        PATH: `${join(dir, 'bin')}:${process.env.PATH}`,
      };
      delete env.PATCHFLOW_NO_INSTALL;
      const run = () =>
        spawnSync(process.execPath, ['scripts/start.mjs', '--only', 'patch-status'], {
          cwd: dir,
          env,
          encoding: 'utf8',
          timeout: 30_000,
        });

      const first = run();
      expect(first.stdout).toMatch(/^patchflow: installing dependencies \(node_modules is missing\): npm install --include=dev/m);
      const calls = readFileSync(join(dir, 'npm-calls'), 'utf8').trim().split('\n');
      expect(calls).toHaveLength(1);
      expect(calls[0]).toMatch(/^install --include=dev\b/);
      expect(calls[0]).not.toMatch(/omit|prune|production/);

      run(); // node_modules is current now: no second install
      expect(readFileSync(join(dir, 'npm-calls'), 'utf8').trim().split('\n')).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('npm start when a service cannot start as configured', () => {
  const namespace = uniqueNamespace('startcfg');
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('start_cfg');
  });
  afterAll(async () => {
    const bus = await Bus.connect({ url: testNatsUrl(), name: 'test', namespace, logger: createLogger('test', 'silent') });
    await deleteNamespaceStreams(bus);
    await bus.close();
    await db.drop();
  });

  it("stops the run at once with the service's own line (exit 2 before ready is not retried)", () => {
    const r = start(
      {
        BUS_NAMESPACE: namespace,
        DATABASE_URL: db.url,
        OUTBOX_RELAY_BATCH: 'many',
        GATEWAY_TOKENS: 'test:admin:start-cfg-token-0123456789',
      },
      ['--only', 'patch-status'],
    );
    expect(r.code).toBe(1);
    const lines = r.err.split('\n').filter((l) => l.startsWith('patchflow:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^patchflow: patch-status cannot start \(exit code 2\): patch-status: invalid environment: OUTBOX_RELAY_BATCH: .*; stopping everything$/,
    );
    expect(r.out).not.toMatch(/restarting|services are ready/);
  });
});

describe('patch-status process on bad configuration', () => {
  it('exits 2 with one line naming the variable', () => {
    const r = spawnSync(process.execPath, ['--conditions=development', '--import', 'tsx', 'services/patch-status/src/main.ts'], {
      cwd: repoRoot,
      env: { ...process.env, OUTBOX_RELAY_BATCH: 'many' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/OUTBOX_RELAY_BATCH/);
  });
});
