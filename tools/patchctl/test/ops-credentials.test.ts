/**
 * patchctl as operators run it in production: as the `ops` NATS user of the server
 * configuration `npm run nats:config` generates (its own inbox prefix, JetStream administration,
 * the workflows' ops subjects, nothing else), against a workflow running as its own user.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bus } from '@patchflow/bus';
import { patchEndpoints } from '@patchflow/contracts';
import { createLogger } from '@patchflow/log';
import {
  buildWorkItem,
  createTestDatabase,
  FakeGitlab,
  freePort,
  PrivateNatsServer,
  generateNatsConfig,
  readStream,
  ServiceProcess,
  uniqueNamespace,
  waitFor,
  type TestDatabase,
} from '@patchflow/testing';
import { patchctl as run } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'pf-patchctl-'));
const namespace = uniqueNamespace('ctlops');
let url: string;
let server: PrivateNatsServer;
let db: TestDatabase;
let patchDb: TestDatabase;
let gitlab: FakeGitlab;
let workflow: ServiceProcess;
let patchStatus: ServiceProcess;
let publisher: Bus;
const env = {} as Record<'ops' | 'patch-status' | 'workflow-gitlab' | 'gateway', Record<string, string>>;

/** patchctl in this file's namespace on the private server, as the ops user unless `extra` says otherwise. */
const patchctl = (args: string[], extra: Record<string, string> = env.ops) =>
  run([...args, '--namespace', namespace], { NATS_URL: url, ...extra });

/** A bus on the private server as one of the generated users (a test client: it does not answer the instance ping). */
const connectAs = (user: keyof typeof env, name: string) =>
  Bus.connect({
    url,
    auth: { user: env[user].NATS_USER, pass: env[user].NATS_PASSWORD, inboxPrefix: env[user].NATS_INBOX_PREFIX },
    name,
    namespace,
    logger: createLogger(name, 'silent'),
  });

beforeAll(async () => {
  const port = await freePort();
  url = `nats://127.0.0.1:${port}`;
  const generated = generateNatsConfig(dir, ['--listen', `127.0.0.1:${port}`, '--namespace', namespace]);
  for (const p of ['ops', 'patch-status', 'workflow-gitlab', 'gateway'] as const) env[p] = generated[p];
  server = await PrivateNatsServer.start({ port, configFile: join(dir, 'nats-server.conf') });
  const ops = await connectAs('ops', 'ops');
  await ops.ensureStreams();
  await ops.close();
  // The outbox's publisher: only patch-status may put work on the stream.
  publisher = await connectAs('patch-status', 'patch-status');
  [db, patchDb, gitlab] = await Promise.all([
    createTestDatabase('patchctl_ops'),
    createTestDatabase('patchctl_ops_ps'),
    FakeGitlab.start({ refs: ['main'] }),
  ]);
  // patch-status as its own user, its relay asleep between rounds (10 min): only the push publishes.
  patchStatus = ServiceProcess.start('services/patch-status/src/main.ts', {
    NATS_URL: url,
    DATABASE_URL: patchDb.url,
    OUTBOX_RELAY_INTERVAL_MS: '600000',
    OUTBOX_RELAY_GRACE_MS: '0',
    ...env['patch-status'],
  });
  workflow = ServiceProcess.start('services/workflow-gitlab/src/main.ts', {
    NATS_URL: url,
    WORKFLOW_DATABASE_URL: db.url,
    WORKFLOW_MAX_ATTEMPTS: '2',
    WORKFLOW_RETRY_BASE_MS: '50',
    WORKFLOW_RETRY_MAX_MS: '200',
    ...gitlab.env,
    ...env['workflow-gitlab'],
  });
  await Promise.all([
    workflow.waitForLog(/workflow consuming work/, 110_000),
    patchStatus.waitForLog(/patch-status ready/, 110_000),
  ]);
}, 180_000);

afterAll(async () => {
  await workflow?.stop('SIGTERM');
  await patchStatus?.stop('SIGTERM');
  await publisher?.close();
  await server?.dispose();
  await Promise.all([db?.drop(), patchDb?.drop(), gitlab?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('patchctl as the ops user', () => {
  it('status, dlq list/retry and replay --dry-run work within the ops permissions', async () => {
    const work = buildWorkItem('markActive', { gitRef: 'release/ops' });
    await publisher.publish(publisher.topology.work('markActive'), work, { msgId: work.workId });
    const at = ['--json'];
    await waitFor(async () => JSON.parse((await patchctl(['dlq', 'list', '-w', 'gitlab', ...at])).stdout).items?.length === 1, {
      what: 'dead letter listed',
      timeoutMs: 60_000,
    });

    const status = await patchctl(['status', '--health', 'none', '--database-url', db.url, ...at]);
    expect(status.code, status.stderr).toBe(0);
    const report = JSON.parse(status.stdout);
    expect(report.consumers).toContainEqual(expect.objectContaining({ durable: 'workflow-gitlab', pending: 0 }));
    expect(report.deadLetters.find((d: { workflow: string }) => d.workflow === 'gitlab')).toMatchObject({ open: 1 });
    // The ops user pings every instance: the two service processes answer, each as its own user.
    expect(report.instances.instances.map((i: { service: string; pid: number }) => [i.service, i.pid])).toEqual([
      ['patch-status', patchStatus.pid],
      ['workflow-gitlab', workflow.pid],
    ]);
    expect(report.instances).toMatchObject({ ignoredReplies: 0 });
    expect(report.instances.error).toBeUndefined();

    const plan = await patchctl(['replay', '--dry-run', '--from-seq', '1', '--workflow-database-url', db.url, ...at]);
    expect(plan.code, plan.stderr).toBe(0);
    expect(JSON.parse(plan.stdout).items).toContainEqual(
      expect.objectContaining({ workId: work.workId, workflow: 'gitlab', execution: 'failed', decision: 'run' }),
    );

    gitlab.addRef('release/ops');
    const retry = await patchctl(['dlq', 'retry', '-w', 'gitlab', '--all', ...at]);
    expect(retry.code, retry.stderr).toBe(0);
    expect(JSON.parse(retry.stdout)).toEqual([{ workflow: 'gitlab', workId: work.workId, status: 'succeeded', tries: 1 }]);

    // A forced replay: the workflow, as its own user, reads the item from the stream and runs it
    // again; the actor is the ops user.
    const forced = await patchctl(['replay', '--from-seq', '1', '-w', 'gitlab', '--force', '--reason', 'config fixed', ...at]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(JSON.parse(forced.stdout)).toMatchObject({
      forced: { actor: 'ops', reason: 'config fixed' },
      items: [expect.objectContaining({ workId: work.workId, result: 'succeeded', attempt: 3 })],
    });
  });

  it('dlq discard as the ops user', async () => {
    const work = buildWorkItem('markActive', { gitRef: 'release/discard' });
    await publisher.publish(publisher.topology.work('markActive'), work, { msgId: work.workId });
    await waitFor(
      async () =>
        JSON.parse((await patchctl(['dlq', 'list', '-w', 'gitlab', '--json'])).stdout).items?.some(
          (i: { workId: string }) => i.workId === work.workId,
        ),
      { what: 'dead letter listed', timeoutMs: 60_000 },
    );
    const discard = await patchctl(['dlq', 'discard', '-w', 'gitlab', '--all', '--reason', 'obsolete', '--json']);
    expect(discard.code, discard.stderr).toBe(0);
    expect(JSON.parse(discard.stdout)).toEqual([expect.objectContaining({ workId: work.workId, status: 'discarded' })]);
    expect(JSON.parse((await patchctl(['dlq', 'list', '-w', 'gitlab', '--json'])).stdout).items).toEqual([]);
  });

  it('outbox: work left unpublished while NATS refused it is listed, then pushed by outbox publish', async () => {
    const ops = await connectAs('ops', 'ops-outbox');
    const gateway = await connectAs('gateway', 'gateway');
    try {
      // No stream stores work any more: patch-status's publish after commit is refused.
      expect(await ops.admin.deleteStream(ops.topology.streams.work.name)).toBe(true);
      const { patch } = await gateway.call(patchEndpoints.create, { name: '2026.48.9', product: 'payments', actor: 'ada' });
      await gateway.call(patchEndpoints.transition, {
        patchId: patch.id,
        action: 'markActive',
        actor: { name: 'ada', role: 'admin' },
      });

      const refused = await patchctl(['outbox', 'publish', '--json']);
      expect(refused.code).toBe(1);
      expect(JSON.parse(refused.stdout)).toEqual({ published: 0, backlog: 1 });
      expect(refused.stderr).toBe('patchctl: 1 row(s) still unpublished (see patchctl outbox for the last error)\n');
      const listed = await patchctl(['outbox', '--json']);
      expect(listed.code, listed.stderr).toBe(0);
      const box = JSON.parse(listed.stdout);
      expect(box.backlog).toBe(1);
      expect(box.items).toEqual([
        expect.objectContaining({
          action: 'markActive',
          patchId: patch.id,
          publishAttempts: expect.any(Number),
          lastPublishError: expect.any(String),
        }),
      ]);
      expect(box.items[0].publishAttempts).toBeGreaterThanOrEqual(1);
      const table = await patchctl(['outbox']);
      expect(table.stdout).toMatch(/^WORK ID +ACTION +PATCH ID +AGE +ATTEMPTS +LAST ERROR$/m);

      // NATS takes work again: the push publishes it at once (the relay would wait 10 minutes).
      await ops.ensureStreams(['work']);
      const pushed = await patchctl(['outbox', 'publish', '--json']);
      expect(pushed.code, pushed.stderr).toBe(0);
      expect(JSON.parse(pushed.stdout)).toEqual({ published: 1, backlog: 0 });
      const stored = await readStream(ops, 'work');
      expect(stored.map((m) => m.msgId)).toEqual([box.items[0].workId]);
      expect(JSON.parse((await patchctl(['outbox', '--json'])).stdout)).toEqual({ backlog: 0, items: [] });
    } finally {
      await gateway.close();
      await ops.close();
    }
  });

  it('credentials the server refuses: one line, exit 2', async () => {
    const bad = await patchctl(['status', '--health', 'none'], { ...env.ops, NATS_PASSWORD: 'not-the-password' });
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/refused the credentials/);
    expect(bad.stderr).not.toContain('not-the-password');
  });
});
