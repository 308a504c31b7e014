/**
 * Postgres going away under load is survived by every service. The whole system runs as separate
 * processes against a private Postgres (so it can be cut off and restarted) and the shared NATS,
 * driven over HTTP by clients that retry a failed request with the same Idempotency-Key. Mid-load
 * every connection is terminated (what a failover does to clients), and separately the server is
 * restarted. While it is gone requests answer 503 `unavailable`; no process dies; afterwards every
 * transition that returned success settles — each routed workflow's execution succeeded — with
 * one successor per startDeployment and each external effect at least once (exactly once is not
 * promised when Postgres dies between the external call and its record).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pgLib from 'pg';
import type { Bus } from '@patchflow/bus';
import { withPoolClient } from '@patchflow/db';
import {
  connectTestBus,
  deleteNamespaceStreams,
  PrivatePostgres,
  RunningSystem,
  testPool,
  testNatsUrl,
  TransitionLoad,
  uniqueNamespace,
  waitFor,
  waitForSettled,
  type AcceptedTransition,
} from '@patchflow/testing';

let pg: PrivatePostgres;
let bus: Bus;
let system: RunningSystem;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs load for `beforeMs`, applies the fault, keeps the load on for `afterMs`, then stops it. */
async function underLoad(product: string, fault: () => Promise<void>, beforeMs = 2500, afterMs = 3000): Promise<TransitionLoad> {
  const load = new TransitionLoad(system, product);
  load.start(6);
  await waitFor(() => load.accepted.size >= 10, { timeoutMs: 30_000, what: 'the load to get going' }).catch((err: unknown) => {
    throw new Error(`${String(err)}; failures ${JSON.stringify([...load.failures])}\n${system.diagnose()}`);
  });
  await sleep(beforeMs);
  const before = load.accepted.size;
  await fault();
  await sleep(afterMs);
  await load.stop();
  // Work was accepted after the fault too: the system came back by itself.
  expect(load.accepted.size).toBeGreaterThan(before);
  return load;
}

/** Every accepted transition settled, one successor per startDeployment, every effect present. */
async function expectSettled(load: TransitionLoad): Promise<void> {
  const accepted = [...load.accepted.values()];
  await waitForSettled(system, accepted, 60_000);
  const deployments = accepted.filter((a) => a.action === 'startDeployment');
  for (const a of deployments) {
    const patch = await system.http('GET', `/api/patches/${a.patchId}`);
    expect(patch.body.successorId, `successor of ${a.patchId}`).toEqual(expect.any(String));
  }
  // No duplicate successors: the product holds the created patches and one successor each.
  const all = await listProduct(accepted[0] ? await productOf(accepted[0]) : '');
  expect(all.filter((p) => p.predecessorId !== null)).toHaveLength(deployments.length);
  for (const a of accepted) {
    expect(slackPostsFor(a.workId), `slack post of ${a.action} ${a.workId}`).toBeGreaterThanOrEqual(1);
    if (a.action === 'markActive' || a.action === 'startDeployment') {
      expect(pipelinesFor(a), `pipeline of ${a.action} ${a.workId}`).toBeGreaterThanOrEqual(1);
    }
  }
  // The outbox relay resumed by itself: no committed work is left unpublished.
  await waitFor(
    async () =>
      Number(
        (await query(pg.url('patchflow'), 'SELECT count(*) AS n FROM patch_transition_work WHERE published_at IS NULL'))[0]?.n,
      ) === 0,
    {
      what: 'the outbox to be fully published',
    },
  );
  expect(system.dead()).toEqual([]);
}

async function query(url: string, sql: string): Promise<Record<string, unknown>[]> {
  const pool = testPool(url);
  try {
    return (await pool.query(sql)).rows as Record<string, unknown>[];
  } finally {
    await pool.end();
  }
}

async function productOf(a: AcceptedTransition): Promise<string> {
  return (await system.http('GET', `/api/patches/${a.patchId}`)).body.patch.product as string;
}

async function listProduct(product: string): Promise<{ id: string; predecessorId: string | null }[]> {
  const out: { id: string; predecessorId: string | null }[] = [];
  let cursor: string | undefined;
  do {
    const page = await system.http(
      'GET',
      `/api/patches?product=${product}&sort=created&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    expect(page.status).toBe(200);
    out.push(...(page.body.items as { id: string; predecessorId: string | null }[]));
    cursor = page.body.nextCursor ?? undefined;
  } while (cursor);
  return out;
}

const slackPostsFor = (workId: string) => system.slack.posts.filter((p) => JSON.stringify(p).includes(workId)).length;
const pipelinesFor = (a: AcceptedTransition) =>
  system.gitlab.pipelines.filter((p) => p.variables.PATCH_ID === a.patchId && p.variables.PATCH_ACTION === a.action).length;

describe.skipIf(!PrivatePostgres.available)('Postgres going away under load', () => {
  beforeAll(async () => {
    pg = await PrivatePostgres.create();
    const namespace = uniqueNamespace('pgout');
    // Streams are created by the operator's tooling (as `npm start` does), not by the services.
    bus = await connectTestBus(namespace);
    system = await RunningSystem.start({
      natsUrl: testNatsUrl(),
      namespace,
      databases: {
        patchStatus: pg.url('patchflow'),
        actionLog: pg.url('patchflow_action_log'),
        workflows: pg.url('patchflow_workflows'),
      },
    });
  }, 120_000);

  afterAll(async () => {
    await system?.stop();
    if (bus) {
      await deleteNamespaceStreams(bus);
      await bus.close();
    }
    await pg?.destroy();
  });

  it('every connection terminated mid-load: no process dies, every accepted transition settles', async () => {
    let terminated = 0;
    const load = await underLoad('terminated', async () => {
      terminated = await pg.terminateConnections();
    });
    expect(terminated).toBeGreaterThan(5);
    expect(system.dead()).toEqual([]);
    // What failed was answered as unavailable (or timed out), never as an internal error.
    expect([...load.unexpected.entries()], system.logLines('patch-status', /request handler failed/, 3).join('\n')).toEqual([]);
    await expectSettled(load);
  }, 120_000);

  it('a checked-out connection that the server ends is caught and destroyed, not an uncaught error', async () => {
    const pool = new pgLib.Pool({ connectionString: pg.url('postgres'), max: 1 });
    pool.on('error', () => undefined);
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      // Held across an await (as the outbox relay holds it while publishing) when the server ends it.
      await withPoolClient(pool, async (client) => {
        await client.query('SELECT 1');
        await pg.terminateConnections(['postgres']);
        await sleep(300);
      });
      expect(uncaught).toEqual([]);
      // The dead client was destroyed, not handed out again: the next query gets a fresh connection.
      expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one).toBe(1);
    } finally {
      process.off('uncaughtException', onUncaught);
      await pool.end();
    }
  });

  it('the server restarted mid-load: requests answer 503 meanwhile, then everything resumes by itself', async () => {
    const load = await underLoad('restarted', () => pg.restart());
    expect(system.dead()).toEqual([]);
    expect(load.failures.get('503') ?? 0).toBeGreaterThan(0);
    expect([...load.unexpected.entries()], system.logLines('patch-status', /request handler failed/, 3).join('\n')).toEqual([]);
    await expectSettled(load);
  }, 120_000);

  it('the server down for 15 s (a slow failover): work waits for it instead of using up its deliveries', async () => {
    // Longer than a workflow's max_deliver (WORKFLOW_MAX_ATTEMPTS + 2) redeliveries a second apart.
    const load = await underLoad('stopped', async () => {
      await pg.stop();
      await sleep(15_000);
      await pg.start();
    });
    expect(system.dead()).toEqual([]);
    expect(load.failures.get('503') ?? 0).toBeGreaterThan(0);
    expect([...load.unexpected.entries()], system.logLines('patch-status', /request handler failed/, 3).join('\n')).toEqual([]);
    await expectSettled(load);
  }, 150_000);
});
