import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { builtinModules } from 'node:module';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  connectTestBus,
  createTestDatabase,
  deleteNamespaceStreams,
  freePort,
  repoRoot,
  testNatsUrl,
  uniqueNamespace,
  waitFor,
  type TestDatabase,
} from '@patchflow/testing';

// The production build: `npm run build` emits dist/, and every service runs from it with plain
// `node` — no tsx, no `development` export condition — through the image's entrypoint
// (deploy/docker-entrypoint.sh), exactly as in a container. Nothing it loads may be a
// devDependency: the image installs production dependencies only.

/** Packages whose dist/ runs in production (libs/testing is a test fixture, never deployed). */
const runtimePackages = ['contracts', 'libs/bus', 'libs/config', 'libs/db', 'libs/log', 'libs/workflow-runtime'].concat(
  readdirSync(join(repoRoot, 'services')).map((s) => `services/${s}`),
);
const devOnly = ['tsx', 'vitest', 'testcontainers', '@patchflow/testing', 'typescript', 'playwright-core', 'turbo'];

/** The environment of a production process: nothing that would load tsx or switch conditions. */
function productionEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'production', LOG_LEVEL: 'info' };
  return { ...env, PATCHFLOW_HOME: repoRoot, ...extra };
}

const readJson = (path: string) => JSON.parse(readFileSync(join(repoRoot, path), 'utf8')) as Record<string, unknown>;

function jsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return jsFiles(path);
    return path.endsWith('.js') ? [path] : [];
  });
}

/** Bare module specifiers a compiled file imports (static, re-exports and dynamic with a literal). */
function importedPackages(file: string): string[] {
  const code = readFileSync(file, 'utf8');
  // Statements at the start of a line (tsc's output), so a string that reads like one does not count.
  const statements =
    /^\s*(?:import|export)\s[^'"]*?\bfrom\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;
  const specifiers = [...code.matchAll(statements)].map((m) => (m[1] ?? m[2] ?? m[3])!);
  return specifiers
    .filter((s) => !s.startsWith('.') && !s.startsWith('node:') && !builtinModules.includes(s.split('/')[0]!))
    .map((s) => (s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]!));
}

beforeAll(() => {
  // The real build (turbo caches it: a re-run without changes takes seconds).
  const build = spawnSync('npm', ['run', 'build'], {
    cwd: repoRoot,
    env: { ...process.env, NODE_OPTIONS: '' },
    encoding: 'utf8',
  });
  if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stdout.slice(-3000)}\n${build.stderr.slice(-3000)}`);
}, 300_000);

describe('npm run build', () => {
  it('emits every runtime package, its migrations, the gateway UI and the stream setup script', () => {
    for (const pkg of runtimePackages) {
      const manifest = readJson(`${pkg}/package.json`) as { exports: Record<string, Record<string, string>> };
      const entry = manifest.exports['.']!.default!;
      expect(entry, pkg).toBe('./dist/index.js');
      expect(existsSync(join(repoRoot, pkg, entry)), `${pkg}/${entry}`).toBe(true);
    }
    for (const s of readdirSync(join(repoRoot, 'services'))) {
      expect(existsSync(join(repoRoot, 'services', s, 'dist/main.js')), s).toBe(true);
    }
    // Migrations are classes listed in code, so each one is compiled beside the code that lists it.
    for (const dir of [
      'services/patch-status/src/migrations',
      'services/action-log/src/migrations',
      'libs/workflow-runtime/src/schema',
    ]) {
      for (const ts of readdirSync(join(repoRoot, dir)).filter((f) => f.endsWith('.ts'))) {
        const js = join(repoRoot, dir.replace('/src/', '/dist/'), ts.replace(/\.ts$/, '.js'));
        expect(existsSync(js), relative(repoRoot, js)).toBe(true);
      }
    }
    expect(existsSync(join(repoRoot, 'scripts/dist/setup-streams.js'))).toBe(true);
  });

  it('resolves each workspace package to its dist/ without the development condition', () => {
    const names = runtimePackages.map((p) => (readJson(`${p}/package.json`) as { name: string }).name);
    const script = `for (const n of ${JSON.stringify(names)}) console.log(n + ' ' + import.meta.resolve(n));`;
    const run = (args: string[]) => {
      const r = spawnSync(process.execPath, [...args, '--input-type=module', '-e', script], {
        cwd: repoRoot,
        env: productionEnv({}),
        encoding: 'utf8',
      });
      expect(r.status, r.stderr).toBe(0);
      return new Map(
        r.stdout
          .trim()
          .split('\n')
          .map((line) => line.split(' ') as [string, string]),
      );
    };
    const plain = run([]);
    const development = run(['--conditions=development']);
    runtimePackages.forEach((pkg, i) => {
      expect(plain.get(names[i]!), pkg).toMatch(new RegExp(`/${pkg}/dist/index\\.js$`));
      expect(development.get(names[i]!), pkg).toMatch(new RegExp(`/${pkg}/src/index\\.ts$`));
    });
  });

  it('imports no devDependency at run time: every package a dist file imports is a dependency of its package', () => {
    const problems: string[] = [];
    const owners = [
      ...runtimePackages.map((p) => ({ dir: `${p}/dist`, manifest: `${p}/package.json` })),
      { dir: 'scripts/dist', manifest: 'package.json' },
    ];
    for (const { dir, manifest } of owners) {
      const deps = Object.keys((readJson(manifest).dependencies as Record<string, string> | undefined) ?? {});
      for (const file of jsFiles(join(repoRoot, dir))) {
        for (const pkg of importedPackages(file)) {
          if (devOnly.includes(pkg)) problems.push(`${relative(repoRoot, file)} imports ${pkg} (a development tool)`);
          else if (!deps.includes(pkg))
            problems.push(`${relative(repoRoot, file)} imports ${pkg}, not in the dependencies of ${manifest}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('the services from dist/, with plain node', () => {
  const namespace = uniqueNamespace('prodbuild');
  const token = randomBytes(18).toString('hex');
  const databases: TestDatabase[] = [];
  const running: { name: string; child: ChildProcess; output: () => string }[] = [];
  let baseUrl = '';
  /** The workflow host's health port (HEALTH_PORT): /readyz answers once every hosted workflow consumes. */
  let hostHealth = '';

  /** One service through the image's entrypoint: `SERVICE=<name> deploy/docker-entrypoint.sh`. */
  function startService(name: string, env: Record<string, string>) {
    const child = spawn('sh', [join(repoRoot, 'deploy/docker-entrypoint.sh')], {
      cwd: '/',
      env: productionEnv({ SERVICE: name, NATS_URL: testNatsUrl(), BUS_NAMESPACE: namespace, ...env }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    running.push({ name, child, output: () => output });
    return child;
  }

  const http = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    let json: unknown = text;
    try {
      json = JSON.parse(text);
    } catch {
      // HTML or text: kept as is.
    }
    return { status: res.status, type: res.headers.get('content-type') ?? '', body: json as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };

  beforeAll(async () => {
    const [patches, actionLog, workflows] = await Promise.all(
      ['prod_patches', 'prod_actionlog', 'prod_workflows'].map(createTestDatabase),
    );
    databases.push(patches!, actionLog!, workflows!);
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    const hostHealthPort = await freePort();
    hostHealth = `http://127.0.0.1:${hostHealthPort}`;

    // The streams first, by the one-shot setup the compose file and the Kubernetes Job run.
    const setup = spawnSync('sh', [join(repoRoot, 'deploy/docker-entrypoint.sh')], {
      env: productionEnv({ SERVICE: 'setup-streams', NATS_URL: testNatsUrl(), BUS_NAMESPACE: namespace }),
      encoding: 'utf8',
    });
    expect(setup.status, setup.stderr + setup.stdout).toBe(0);
    expect(setup.stdout).toMatch(/streams ready/);

    startService('patch-status', { DATABASE_URL: patches!.url });
    startService('action-log', { ACTION_LOG_DATABASE_URL: actionLog!.url });
    // The workflows both ways: slack in its own process, the other three in the workflow host
    // (WORKFLOWS), each on its own durable consumer either way.
    startService('workflow-slack', { WORKFLOW_DATABASE_URL: workflows!.url });
    startService('workflows', {
      WORKFLOWS: 'successor,gitlab,jira',
      WORKFLOW_DATABASE_URL: workflows!.url,
      HEALTH_PORT: String(hostHealthPort),
    });
    startService('gateway', { GATEWAY_PORT: String(port), GATEWAY_HOST: '127.0.0.1', GATEWAY_TOKENS: `prod:operator:${token}` });
    const logs = () => running.map((r) => `--- ${r.name} (exit ${r.child.exitCode})\n${r.output().slice(-1500)}`).join('\n');
    await waitFor(
      async () =>
        running.every((r) => r.child.exitCode === null) &&
        (await http('GET', '/api/patches')).status === 200 &&
        (await fetch(`${hostHealth}/readyz`).catch(() => undefined))?.ok,
      {
        timeoutMs: 45_000,
        intervalMs: 200,
        what: `the gateway, patch-status and the workflow host to answer:\n${logs()}`,
      },
    );
  }, 120_000);

  afterAll(async () => {
    for (const r of running.reverse()) if (r.child.exitCode === null) r.child.kill('SIGKILL');
    const bus = await connectTestBus(namespace).catch(() => undefined);
    if (bus) {
      await deleteNamespaceStreams(bus);
      await bus.close();
    }
    for (const db of databases) await db.drop().catch(() => undefined);
  }, 60_000);

  it('serves the UI from public/, creates a patch and takes a transition over HTTP; the workflows and the action log run from dist too', async () => {
    const ui = await http('GET', '/');
    expect(ui.status).toBe(200);
    expect(ui.type).toMatch(/text\/html/);

    const created = await http('POST', '/api/patches', { name: '2026.48.1', product: 'prodbuild' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.patch.id as string;

    const moved = await http('POST', `/api/patches/${id}/mark-active`, { expectedVersion: 1 });
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    expect(moved.body.patch).toMatchObject({ status: 'active', version: 2 });

    // workflow-slack, and gitlab and jira in the host (none configured: "skipped"), settle the
    // work; action-log records it.
    const entry = await waitFor(
      async () => {
        const history = await http('GET', `/api/patches/${id}/history`);
        const first = (
          history.body.entries as
            { action: string; settled: boolean; executions: { workflow: string; status: string }[] }[] | undefined
        )?.[0];
        return first?.action === 'markActive' && first.settled && first;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: 'the markActive executions of every routed workflow in the history' },
    );
    expect(Object.fromEntries(entry.executions.map((e) => [e.workflow, e.status]))).toEqual({
      gitlab: 'skipped',
      jira: 'skipped',
      slack: 'skipped',
    });
  });

  it("passes the compose file's health checks of the gateway and the workflow host (the same node -e fetch, on their ports)", () => {
    const compose = parse(readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8'), { merge: true }) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    const [kind, command, ...args] = compose.services.gateway.healthcheck.test as string[];
    expect([kind, command, args[0]]).toEqual(['CMD', 'node', '-e']);
    const probe = (script: string) =>
      spawnSync(process.execPath, ['-e', script], { env: productionEnv({}), timeout: 10_000 }).status;
    expect(probe(args[1]!.replace('127.0.0.1:8080', new URL(baseUrl).host))).toBe(0);
    // And it fails where nothing answers.
    expect(probe(args[1]!.replace('127.0.0.1:8080', '127.0.0.1:1'))).toBe(1);
    // The workflow host's (the health port's /readyz, as every service but the gateway) passes on the host's port.
    const [, , , hostProbe] = compose.services.workflows.healthcheck.test as string[];
    expect(hostProbe).toContain('127.0.0.1:9000/readyz');
    expect(probe(hostProbe!.replace('127.0.0.1:9000', new URL(hostHealth).host))).toBe(0);
  });

  it('stops every service cleanly on SIGTERM', async () => {
    for (const r of [...running].reverse()) {
      const exited = new Promise<number | null>((ok) =>
        r.child.exitCode !== null ? ok(r.child.exitCode) : r.child.once('exit', ok),
      );
      r.child.kill('SIGTERM');
      expect(await exited, `${r.name}:\n${r.output().slice(-1500)}`).toBe(0);
    }
  }, 60_000);
});
