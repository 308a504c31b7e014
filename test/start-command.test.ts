import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { freePort, repoRoot, testDatabaseServerUrl } from '@patchflow/testing';

/** Runs a script the way `npm start` does and returns its exit code and output. */
function run(entry: string, env: Record<string, string>, args: string[] = []) {
  const r = spawnSync(process.execPath, ['--conditions=development', '--import', 'tsx', entry, ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr.trim() };
}

describe('npm start when a server is missing', () => {
  it('names the Postgres URL and how to start it, in one line', async () => {
    const port = await freePort();
    const r = run('scripts/start.ts', { DATABASE_URL: `postgres://root@127.0.0.1:${port}/patchflow` });
    expect(r.code).toBe(1);
    expect(r.err.split('\n')).toHaveLength(1);
    expect(r.err).toContain(`127.0.0.1:${port}`);
    expect(r.err).toMatch(/Postgres is not reachable.*pg_ctlcluster.*docker compose up/);
  });

  it('names the NATS URL and how to start it, in one line', async () => {
    const port = await freePort();
    const r = run('scripts/start.ts', { DATABASE_URL: testDatabaseServerUrl(), NATS_URL: `nats://127.0.0.1:${port}` });
    expect(r.code).toBe(1);
    expect(r.err.split('\n')).toHaveLength(1);
    expect(r.err).toMatch(new RegExp(`NATS is not reachable at nats://127.0.0.1:${port}.*nats-server.*docker compose up`));
  });

  it('names a malformed variable without printing its value', () => {
    const r = run('scripts/start.ts', { LOG_LEVEL: 'loud', NATS_URL: 'http://secret-host:1' });
    expect(r.code).toBe(1);
    expect(r.err).toContain('LOG_LEVEL');
    expect(r.err).toContain('NATS_URL');
    expect(r.err).not.toContain('secret-host');
  });

  it('prints help', () => {
    const r = run('scripts/start.ts', {}, ['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Usage: npm start/);
  });
});

describe('patch-status process on bad configuration', () => {
  it('exits 2 with one line naming the variable', () => {
    const r = run('services/patch-status/src/main.ts', { OUTBOX_RELAY_BATCH: 'many' });
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/OUTBOX_RELAY_BATCH/);
  });
});
