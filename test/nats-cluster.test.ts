/**
 * A 3-node NATS cluster losing the work stream's leader under load. The cluster runs the
 * least-privilege configuration that `npm run nats:config -- --cluster-nodes 3` generates (one
 * user per service, the same on every node); streams are created by the ops user with
 * STREAM_REPLICAS=3; every service is its own process with its own credentials and all three
 * URLs. Mid-load the leader of the work stream is SIGKILLed; the load goes on; afterwards every
 * transition that returned success is settled, with exactly one successor, one GitLab pipeline
 * and one Slack post per work item. The node is restarted and catches up (current, lag 0).
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bus, BusPermissionError, ensureConsumer, type NatsAuth } from '@patchflow/bus';
import { busPrincipals, type BusPrincipal } from '@patchflow/contracts';
import { createLogger } from '@patchflow/log';
import {
  createTestDatabase,
  freePortRange,
  PrivateNatsCluster,
  generateNatsConfig,
  RunningSystem,
  TransitionLoad,
  uniqueNamespace,
  waitFor,
  waitForSettled,
  type TestDatabase,
} from '@patchflow/testing';

const dir = mkdtempSync(join(tmpdir(), 'pf-cluster-'));
const namespace = uniqueNamespace('cluster');
const credentials = {} as Record<BusPrincipal, Record<string, string>>;
const databases: TestDatabase[] = [];
const buses: Bus[] = [];
let cluster: PrivateNatsCluster;
let ops: Bus;
let system: RunningSystem;

/** A bus client as `principal` (the operator's by default), with the given replicas for the streams. */
async function opsBus(streamReplicas: number, principal: BusPrincipal = 'ops'): Promise<Bus> {
  const c = credentials[principal];
  const auth: NatsAuth = { user: c.NATS_USER, pass: c.NATS_PASSWORD, inboxPrefix: c.NATS_INBOX_PREFIX };
  const bus = await Bus.connect({
    url: cluster.url,
    auth,
    name: `${principal}-r${streamReplicas}`,
    namespace,
    streamReplicas,
    logger: createLogger(principal, 'silent'),
  });
  buses.push(bus);
  return bus;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  const base = await freePortRange(6);
  Object.assign(
    credentials,
    generateNatsConfig(dir, [
      '--listen',
      `127.0.0.1:${base}`,
      '--namespace',
      namespace,
      '--cluster-nodes',
      '3',
      '--cluster-base-port',
      String(base),
    ]),
  );
  cluster = await PrivateNatsCluster.start(['n1', 'n2', 'n3'].map((n) => join(dir, `${n}.conf`)));

  // First as a single-replica system would have made them, then scaled by changing STREAM_REPLICAS:
  // the ops user's ensureStreams updates existing streams. JetStream answers once the cluster has
  // elected its meta leader (a few seconds).
  const r1 = await waitFor(() => opsBus(1), { timeoutMs: 30_000, intervalMs: 500, what: 'JetStream in the cluster' });
  await waitFor(() => r1.ensureStreams().then(() => true), {
    timeoutMs: 30_000,
    intervalMs: 500,
    what: 'streams created in the cluster',
  });
  expect((await r1.admin.streamInfo(r1.topology.streams.work.name)).replicas).toBe(1);
  // A durable consumer that already exists when the stream is scaled (ops may administer consumers).
  await ensureConsumer(r1, r1.topology.actionLogConsumers().work);
  ops = await opsBus(3);
  await ops.ensureStreams();

  const [patchDb, logDb, workflowDb] = await Promise.all(['cl_patch', 'cl_log', 'cl_wf'].map((l) => createTestDatabase(l)));
  databases.push(patchDb!, logDb!, workflowDb!);
  system = await RunningSystem.start({
    natsUrl: cluster.url,
    namespace,
    databases: { patchStatus: patchDb!.url, actionLog: logDb!.url, workflows: workflowDb!.url },
    // Exactly what `npm start -- --nats-credentials DIR` gives each service: its own file, which
    // in cluster mode also names every node (NATS_URL) and STREAM_REPLICAS=3.
    envOf: (service) => credentials[service],
  });
}, 150_000);

afterAll(async () => {
  await system?.stop();
  for (const b of buses) await b.close().catch(() => undefined);
  await cluster?.dispose();
  await Promise.all(databases.map((d) => d.drop()));
  rmSync(dir, { recursive: true, force: true });
});

describe('a 3-node NATS cluster', () => {
  it('is configured by nats:config --cluster-nodes 3: one file per node, owner-only, no clear password; each .env names every node', () => {
    for (const n of ['n1', 'n2', 'n3']) {
      const file = join(dir, `${n}.conf`);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const conf = readFileSync(file, 'utf8');
      expect(conf).toContain(`server_name: "${n}"`);
      for (const p of busPrincipals) expect(conf).not.toContain(credentials[p].NATS_PASSWORD);
    }
    for (const p of busPrincipals)
      expect(credentials[p]).toMatchObject({ NATS_URL: cluster.url, STREAM_REPLICAS: '3', BUS_NAMESPACE: namespace });
  });

  it('holds every stream, and the durable consumers with them, on all three nodes (STREAM_REPLICAS=3)', async () => {
    for (const def of Object.values(ops.topology.streams)) {
      const info = await waitFor(
        async () => {
          const i = await ops.admin.streamInfo(def.name);
          return i.replicas === 3 && i.cluster?.replicas.length === 2 && i;
        },
        { timeoutMs: 15_000, what: `${def.name} on three nodes` },
      );
      expect(info.cluster?.leader).toEqual(expect.stringMatching(/^n[123]$/));
    }
    // Consumers have num_replicas 0: NATS 2.9 places them on their stream's peers — also one that
    // existed before the stream was scaled from 1 to 3 (action-log-work).
    for (const def of [ops.topology.workflowConsumer('gitlab'), ops.topology.actionLogConsumers().work]) {
      const info = await waitFor(
        async () => {
          const i = await ops.admin.consumerInfo(def.stream, def.durableName);
          return i.cluster?.replicas.length === 2 && i;
        },
        { timeoutMs: 15_000, what: `${def.durableName} on three nodes` },
      ).catch(async (err: unknown) => {
        throw new Error(`${String(err)}: ${JSON.stringify((await ops.admin.consumerInfo(def.stream, def.durableName)).cluster)}`);
      });
      expect(info.replicas).toBe(0);
    }
  });

  it('a service started with another STREAM_REPLICAS is told so at start, and cannot scale the streams down', async () => {
    const slack = await opsBus(1, 'workflow-slack');
    const error = await slack.ensureStreams(['work']).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(BusPermissionError);
    expect((error as Error).message).toContain('it has 3 replicas, STREAM_REPLICAS here says 1');
    expect((await ops.admin.streamInfo(ops.topology.streams.work.name)).replicas).toBe(3);
  });

  it('loses the work stream’s leader mid-load: every accepted transition settles, each effect exactly once, the node catches up', async () => {
    const workStream = ops.topology.streams.work.name;
    const load = new TransitionLoad(system, 'cluster');
    // ~10 transitions/s: enough to be mid-flight everywhere when the leader dies, little enough to settle fast.
    load.start(3, { paceMs: 250 });
    await waitFor(() => load.accepted.size >= 10, { timeoutMs: 30_000, what: 'the load to get going' }).catch((err: unknown) => {
      throw new Error(`${String(err)}; failures ${JSON.stringify([...load.failures])}\n${system.diagnose()}`);
    });
    const leader = (await ops.admin.streamInfo(workStream)).cluster?.leader;
    expect(leader).toBeDefined();
    const before = load.accepted.size;
    await cluster.node(leader!).server.stop('SIGKILL');

    // Another node takes over; the load goes on meanwhile.
    const newLeader = await waitFor(
      async () => {
        const l = (await ops.admin.streamInfo(workStream)).cluster?.leader;
        return l && l !== leader ? l : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 250, what: 'a new leader of the work stream' },
    );
    await sleep(3000);
    await load.stop();
    expect(load.accepted.size).toBeGreaterThan(before);
    expect(system.dead()).toEqual([]);

    const accepted = [...load.accepted.values()];
    await waitForSettled(system, accepted, 60_000);
    for (const a of accepted) {
      expect(
        system.slack.posts.filter((p) => JSON.stringify(p).includes(a.workId)),
        `slack ${a.action} ${a.workId}`,
      ).toHaveLength(1);
      const pipelines = system.gitlab.pipelines.filter(
        (p) => p.variables.PATCH_ID === a.patchId && p.variables.PATCH_ACTION === a.action,
      );
      expect(pipelines, `gitlab ${a.action} ${a.workId}`).toHaveLength(
        a.action === 'markActive' || a.action === 'startDeployment' ? 1 : 0,
      );
    }
    // One successor per startDeployment, and no other patch: created + successors, nothing more.
    const deployments = accepted.filter((a) => a.action === 'startDeployment');
    for (const a of deployments) {
      expect((await system.http('GET', `/api/patches/${a.patchId}`)).body.successorId, `successor of ${a.patchId}`).toEqual(
        expect.any(String),
      );
    }
    const patches: { predecessorId: string | null }[] = [];
    for (let cursor: string | undefined, first = true; first || cursor; first = false) {
      const page = await system.http(
        'GET',
        `/api/patches?product=cluster&sort=created&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      patches.push(...(page.body.items as { predecessorId: string | null }[]));
      cursor = page.body.nextCursor ?? undefined;
    }
    expect(patches.filter((p) => p.predecessorId !== null)).toHaveLength(deployments.length);
    expect(patches).toHaveLength(load.createdPatches.size + deployments.length);

    // The killed node comes back and catches up with what the others stored meanwhile.
    await cluster.node(leader!).server.restart();
    await waitFor(
      async () => {
        const info = await ops.admin.streamInfo(workStream);
        const peers = [{ name: info.cluster?.leader, current: true, lag: 0 }, ...(info.cluster?.replicas ?? [])];
        const back = peers.find((p) => p.name === leader);
        return back?.current === true && !back.lag && info.cluster?.replicas.every((r) => r.current && !r.lag);
      },
      { timeoutMs: 30_000, intervalMs: 250, what: `${leader} to be current again with lag 0` },
    );
    expect(newLeader).not.toBe(leader);
    expect(system.dead()).toEqual([]);
  }, 150_000);
});
