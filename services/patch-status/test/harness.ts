import type pg from 'pg';
import type { Bus } from '@patchflow/bus';
import {
  patchEndpoints,
  type ActionName,
  type PatchView,
  type Reply,
  type Role,
  type TransitionResult,
} from '@patchflow/contracts';
import {
  connectTestBus,
  createTestDatabase,
  deleteNamespaceStreams,
  testLogLevel,
  testNatsUrl,
  testPool,
  uniqueNamespace,
  type TestDatabase,
} from '@patchflow/testing';
import { startPatchStatus, type PatchStatusApp } from '../src/index.js';

/** One patch-status in-process, with its own database and bus namespace, and a client bus. */
export interface Harness {
  db: TestDatabase;
  namespace: string;
  app: PatchStatusApp;
  client: Bus;
  sql: pg.Pool;
  createPatch(overrides?: Partial<{ name: string; product: string; jiraKey: string }>): Promise<PatchView>;
  transition(
    patchId: string,
    action: ActionName,
    extra?: { role?: Role; reason?: string; expectedVersion?: number; idempotencyKey?: string },
  ): Promise<Reply<TransitionResult>>;
  count(table: 'patch' | 'patch_transition' | 'patch_transition_work'): Promise<number>;
  close(): Promise<void>;
}

export async function startHarness(label: string, env: Record<string, string> = {}): Promise<Harness> {
  const db = await createTestDatabase(label);
  const namespace = uniqueNamespace(label);
  const app = await startPatchStatus({ databaseUrl: db.url, natsUrl: testNatsUrl(), namespace, logLevel: testLogLevel, env });
  const client = await connectTestBus(namespace);
  const sql = testPool(db.url);
  let n = 0;
  return {
    db,
    namespace,
    app,
    client,
    sql,
    async createPatch(overrides = {}) {
      n += 1;
      const r = await client.call(patchEndpoints.create, {
        name: `2026.48.${n}`,
        product: 'payments',
        actor: 'tester',
        ...overrides,
      });
      return r.patch;
    },
    transition(patchId, action, extra = {}) {
      const { role = 'admin', ...rest } = extra;
      return client.request(patchEndpoints.transition, { patchId, action, actor: { name: 'tester', role }, ...rest });
    },
    async count(table) {
      const r = await sql.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
      return Number(r.rows[0]!.n);
    },
    async close() {
      await app.stop();
      await sql.end();
      await deleteNamespaceStreams(client);
      await client.close();
      await db.drop();
    },
  };
}
