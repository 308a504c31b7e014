import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import type { Bus } from '@patchflow/bus';
import { patchEndpoints } from '@patchflow/contracts';
import { createLogger } from '@patchflow/log';
import {
  connectTestBus,
  createTestDatabase,
  deleteNamespaceStreams,
  testLogLevel,
  testNatsUrl,
  testPool,
  uniqueNamespace,
  uniqueSuffix,
  waitFor,
  type TestDatabase,
} from '@patchflow/testing';
import { startPatchStatus, type PatchStatusApp } from '../src/index.js';
import { appRoleGrants } from '../src/db-roles.js';
import { initOrm, migrate } from '../src/orm.js';

// The service runs as a role that owns nothing and holds only `appRoleGrants`; the owner (the
// test server's superuser) runs the migrations through MIGRATION_DATABASE_URL.

let db: TestDatabase;
let owner: pg.Pool;
let asApp: pg.Pool;
let app: PatchStatusApp;
let client: Bus;
const role = `pf_app_${uniqueSuffix()}`;

function urlAs(user: string): string {
  const u = new URL(db.url);
  u.username = user;
  u.password = '';
  return u.toString();
}

beforeAll(async () => {
  db = await createTestDatabase('roles');
  owner = testPool(db.url);
  // What a DBA does once: migrate as the owner, create the role, grant.
  const orm = await initOrm(db.url, createLogger('roles-test', 'silent'));
  await migrate(orm);
  await orm.close();
  await owner.query(`CREATE ROLE ${role} LOGIN`);
  for (const grant of appRoleGrants(role)) await owner.query(grant);

  const namespace = uniqueNamespace('roles');
  app = await startPatchStatus({
    databaseUrl: urlAs(role),
    natsUrl: testNatsUrl(),
    namespace,
    logLevel: testLogLevel,
    env: { MIGRATION_DATABASE_URL: db.url, OUTBOX_RELAY_INTERVAL_MS: '100', OUTBOX_RELAY_GRACE_MS: '0' },
  });
  client = await connectTestBus(namespace);
  asApp = testPool(urlAs(role));
});
afterAll(async () => {
  await app?.stop();
  await asApp?.end();
  if (client) {
    await deleteNamespaceStreams(client);
    await client.close();
  }
  await owner?.end();
  await db?.drop();
  const server = testPool(new URL('/postgres', db.url).toString(), 1);
  await server.query(`DROP ROLE IF EXISTS ${role}`);
  await server.end();
});

describe('patch-status as a role that owns nothing', () => {
  it('runs the whole lifecycle: creates, transitions, publishes and records the publishes, reads history', async () => {
    const { patch } = await client.call(patchEndpoints.create, {
      name: '2026.50.1',
      product: 'payments',
      actor: 'tester',
      idempotencyKey: 'r-1',
    });
    for (const action of ['markActive', 'startDeployment', 'completeDeployment', 'close'] as const) {
      const r = await client.request(patchEndpoints.transition, {
        patchId: patch.id,
        action,
        actor: { name: 'tester', role: 'admin' },
      });
      expect(r.ok, action).toBe(true);
    }
    const history = await client.call(patchEndpoints.history, { patchId: patch.id });
    expect(history.transitions).toHaveLength(4);
    await waitFor(
      async () => {
        const r = await owner.query('SELECT count(*)::int AS n FROM patch_transition_work WHERE published_at IS NULL');
        return r.rows[0].n === 0;
      },
      { what: 'every work item marked published' },
    );
    const again = await client.call(patchEndpoints.create, {
      name: '2026.50.1',
      product: 'payments',
      actor: 'tester',
      idempotencyKey: 'r-1',
    });
    expect(again).toMatchObject({ patch: { id: patch.id }, replayed: true });
  });

  it("links the successor's name created by hand as the successor (UPDATE of predecessor_id only)", async () => {
    const { patch: pred } = await client.call(patchEndpoints.create, { name: '2026.51.1', product: 'payments', actor: 'tester' });
    const { patch: byHand } = await client.call(patchEndpoints.create, {
      name: '2026.51.2',
      product: 'payments',
      actor: 'tester',
    });
    const linked = await client.call(patchEndpoints.create, {
      name: '2026.51.2',
      product: 'payments',
      actor: 'workflow-successor',
      predecessorId: pred.id,
      idempotencyKey: 'link-1',
    });
    expect(linked).toMatchObject({ patch: { id: byHand.id, predecessorId: pred.id }, replayed: true });
  });

  it('the outbox relay can claim (FOR UPDATE SKIP LOCKED) and re-mark rows', async () => {
    await owner.query('UPDATE patch_transition_work SET published_at = NULL');
    await waitFor(
      async () => {
        const r = await owner.query('SELECT count(*)::int AS n FROM patch_transition_work WHERE published_at IS NULL');
        return r.rows[0].n === 0;
      },
      { what: 'relay re-marks the rows', timeoutMs: 15_000 },
    );
  });

  it.each([
    ['UPDATE a transition', `UPDATE patch_transition SET actor = 'nobody'`, /permission denied for table patch_transition/],
    ['DELETE a transition', 'DELETE FROM patch_transition', /permission denied for table patch_transition/],
    ['TRUNCATE the outbox', 'TRUNCATE patch_transition_work', /permission denied for table patch_transition_work/],
    ['rewrite a payload', `UPDATE patch_transition_work SET payload = '{}'`, /permission denied for table patch_transition_work/],
    ['DELETE a patch', 'DELETE FROM patch', /permission denied for table patch/],
    ['rename a patch', `UPDATE patch SET name = 'x'`, /permission denied for table patch/],
    ['ALTER TABLE', 'ALTER TABLE patch_transition DISABLE TRIGGER ALL', /must be owner of table patch_transition/],
    [
      'DROP TRIGGER',
      'DROP TRIGGER patch_transition_append_only ON patch_transition',
      /must be owner of (table|relation) patch_transition/,
    ],
    ['DROP FUNCTION', 'DROP FUNCTION patchflow_refuse_audit_change()', /must be owner of function/],
    ['CREATE TABLE', 'CREATE TABLE sneaky (id int)', /permission denied for schema public/],
  ])('may not %s', async (_what, statement, message) => {
    await expect(asApp.query(statement)).rejects.toThrow(message);
  });

  it('without MIGRATION_DATABASE_URL the role cannot migrate, and start says which variable to set', async () => {
    await expect(startPatchStatus({ databaseUrl: urlAs(role), natsUrl: testNatsUrl(), logLevel: 'silent' })).rejects.toThrow(
      /^migrations need the role that owns the tables \(.*permission denied.*\): set MIGRATION_DATABASE_URL/,
    );
  });

  it('a MIGRATION_DATABASE_URL naming another database is refused at start, naming the variable', async () => {
    const other = new URL(db.url);
    other.pathname = '/some_other_database';
    await expect(
      startPatchStatus({
        databaseUrl: urlAs(role),
        natsUrl: testNatsUrl(),
        logLevel: 'silent',
        env: { MIGRATION_DATABASE_URL: other.toString() },
      }),
    ).rejects.toThrow('MIGRATION_DATABASE_URL: must name the same database as DATABASE_URL');
  });
});
