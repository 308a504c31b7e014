/**
 * `npm run bench:workflows`: work items/s one workflow service executes with a no-op handler, and
 * pickup latency (commit / publish → handler start) at a steady 100 items/s, next to a baseline
 * of the bus's bare consumer (decode + ack) measured in the same run.
 */
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { ConsumerRunner, type Bus } from '@patchflow/bus';
import { patchEndpoints, type WorkflowName } from '@patchflow/contracts';
import { startPatchStatus } from '@patchflow/patch-status';
import {
  buildWorkItem,
  connectTestBus,
  createTestDatabase,
  deleteNamespaceStreams,
  testNatsUrl,
  uniqueNamespace,
  waitFor,
  type TestDatabase,
} from '@patchflow/testing';
import { startWorkflowService, type ActionWorkflowService, type WorkflowHandlers } from '@patchflow/workflow-runtime';
import { numberArg, percentile, stringArg } from './bench-kit.js';
import { cpuPerItem } from './bench/workflow-cpu.js';

const HELP = `Usage: npm run bench:workflows [-- --items N] [-- --seconds S] [-- --rate R]
       npm run bench:workflows -- --cpu [--items N] [--rounds K] [--baseline PATH] [--prof DIR] [--log-level L] [--rate R]

Prints a markdown table: items/s of one workflow service (no-op handler) draining N pre-published
work items, against the bus's bare durable consumer (decode + ack, the floor under the runtime) of
the same items; and pickup latency p50/p99 at a steady R items/s (default 100) for S seconds:
direct publish → bus consumer, direct publish → workflow handler, and patch-status transition
commit → workflow handler. Uses fresh databases and bus namespaces (DATABASE_URL's server,
NATS_URL) and removes them afterwards.

--cpu: CPU cost per work item instead. A private Postgres and nats-server (so nobody else's load
is counted), the workflow service as its own process (scripts/bench/workflow-process.ts), N items
(default 3000) published 64 in flight while it consumes, after a warm-up of 300. Per row: items/s
and CPU ms per item of the workflow process, of every Postgres process, and of nats-server (which
also stores the benchmark's own publishes), from /proc utime+stime. Handlers: no-op, and typical
(records an external id, then one step). --baseline PATH runs another copy of the runtime (the
absolute path of its src/index.ts, kept inside the repository so its imports resolve, e.g.
\`git archive REV libs/workflow-runtime/src | tar -x -C .bench-baseline\`) in alternating rounds
(--rounds, default 3); --prof DIR writes a --cpu-prof of each workflow process there;
--log-level (default info, as npm start runs the services; written to a pipe and discarded);
--rate R publishes at a steady R/s instead (little to batch: the cost of a lone item). Needs root (the private Postgres runs as postgres).`;

if (process.argv.includes('--help')) {
  console.log(HELP);
  process.exit(0);
}
const CPU_MODE = process.argv.includes('--cpu');
const ITEMS = numberArg('--items', CPU_MODE ? 3000 : 5000);
const SECONDS = numberArg('--seconds', 10);
const RATE = numberArg('--rate', 100);
const WORKFLOW: WorkflowName = 'slack'; // routed for every action
const LOG = 'warn' as const;

interface Row {
  what: string;
  items: number;
  perSecond?: number;
  p50?: number;
  p99?: number;
}
const rows: Row[] = [];
const cleanups: Array<() => Promise<void>> = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A handler table whose every action records the pickup latency and does nothing else. */
function noOpHandlers(pickups: number[]): WorkflowHandlers {
  const record: ActionWorkflowService = {
    execute: async ({ work }) => {
      pickups.push(Date.now() - Date.parse(work.transition.createdAt));
    },
  };
  return {
    markActive: record,
    startDeployment: record,
    completeDeployment: record,
    failDeployment: record,
    close: record,
    cancel: record,
  };
}

async function namespaceBus(label: string): Promise<Bus> {
  const bus = await connectTestBus(uniqueNamespace(label));
  cleanups.push(async () => {
    await deleteNamespaceStreams(bus);
    await bus.close();
  });
  return bus;
}

async function database(label: string): Promise<TestDatabase> {
  const db = await createTestDatabase(label);
  cleanups.push(() => db.drop());
  return db;
}

async function publishAll(bus: Bus, n: number): Promise<void> {
  const inFlight = new Set<Promise<unknown>>();
  for (let i = 0; i < n; i++) {
    const w = buildWorkItem('markActive');
    const p = bus.publish(bus.topology.work('markActive'), w, { msgId: w.workId }).finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= 64) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
}

/** The time a baseline consumer reads of each work item (the rest of the item is not validated). */
const PickupTime = z.object({ transition: z.object({ createdAt: z.string() }) });

/**
 * The floor under the runtime: the bus's own durable pull consumer (the one the runtime runs on),
 * 256 in flight, decode + ack only — no claim, no events, no Postgres. Returns its stop.
 */
async function rawConsume(bus: Bus, onMessage: (work: z.infer<typeof PickupTime>) => void): Promise<() => Promise<void>> {
  const runner = await ConsumerRunner.start(bus, {
    consumer: { ...bus.topology.workflowConsumer(WORKFLOW), durableName: 'bench-raw' },
    schema: PickupTime,
    concurrency: 256,
    handle: async ({ value }) => {
      onMessage(value);
      return { kind: 'ack' };
    },
  });
  return () => runner.stop();
}

/** Calls `fire(i)` at a steady `RATE` per second for SECONDS, without waiting for each call. */
async function paced(fire: (i: number) => Promise<unknown>): Promise<number> {
  const n = Math.round(RATE * SECONDS);
  const t0 = performance.now();
  const pending: Array<Promise<unknown>> = [];
  for (let i = 0; i < n; i++) {
    const due = t0 + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    pending.push(fire(i));
  }
  await Promise.all(pending);
  return n;
}

async function throughput(): Promise<void> {
  // Baseline: the bus consumer's decode + ack of ITEMS pre-published items.
  {
    const bus = await namespaceBus('benchraw');
    await publishAll(bus, ITEMS);
    let done = 0;
    const t0 = performance.now();
    const stop = await rawConsume(bus, () => void done++);
    await waitFor(() => done >= ITEMS, { timeoutMs: 120_000, intervalMs: 5, what: 'baseline consumer drained' });
    const s = (performance.now() - t0) / 1000;
    await stop();
    rows.push({ what: 'bus consumer, decode + ack (baseline)', items: ITEMS, perSecond: ITEMS / s });
  }
  // The workflow runtime: validate, claim in Postgres, events, no-op handler, record, ack.
  for (const concurrency of [16, 64]) {
    const bus = await namespaceBus('benchwf');
    const db = await database('bench_wf');
    await publishAll(bus, ITEMS);
    const pickups: number[] = [];
    const t0 = performance.now();
    const service = await startWorkflowService(
      {
        workflow: WORKFLOW,
        natsUrl: testNatsUrl(),
        namespace: bus.topology.namespace,
        databaseUrl: db.url,
        logLevel: LOG,
        concurrency,
      },
      () => noOpHandlers(pickups),
    );
    await waitFor(() => service.runtime.stats.succeeded >= ITEMS, {
      timeoutMs: 300_000,
      intervalMs: 5,
      what: 'workflow drained',
    });
    const s = (performance.now() - t0) / 1000;
    await service.stop();
    rows.push({ what: `workflow runtime, no-op handler, concurrency ${concurrency}`, items: ITEMS, perSecond: ITEMS / s });
  }
}

async function pickupLatency(): Promise<void> {
  // Direct publish at RATE/s, bus consumer: the floor.
  {
    const bus = await namespaceBus('benchlatraw');
    const latencies: number[] = [];
    const stop = await rawConsume(bus, (w) => latencies.push(Date.now() - Date.parse(w.transition.createdAt)));
    const n = await paced(() => {
      const w = buildWorkItem('markActive');
      return bus.publish(bus.topology.work('markActive'), w, { msgId: w.workId });
    });
    await waitFor(() => latencies.length >= n, { timeoutMs: 30_000, what: 'baseline pickups' });
    await stop();
    rows.push({
      what: `pickup at ${RATE}/s: direct publish → bus consumer (baseline)`,
      items: n,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
    });
  }
  // Direct publish at RATE/s → workflow handler start.
  {
    const bus = await namespaceBus('benchlatwf');
    const db = await database('bench_lat');
    const pickups: number[] = [];
    const service = await startWorkflowService(
      { workflow: WORKFLOW, natsUrl: testNatsUrl(), namespace: bus.topology.namespace, databaseUrl: db.url, logLevel: LOG },
      () => noOpHandlers(pickups),
    );
    const publishOne = () => {
      const w = buildWorkItem('markActive');
      return bus.publish(bus.topology.work('markActive'), w, { msgId: w.workId });
    };
    // Warm-up (not measured), as for the patch-status row below.
    await Promise.all(Array.from({ length: RATE }, publishOne));
    await waitFor(() => pickups.length >= RATE, { timeoutMs: 30_000, what: 'warm-up pickups' });
    pickups.length = 0;
    const n = await paced(publishOne);
    await waitFor(() => pickups.length >= n, { timeoutMs: 30_000, what: 'workflow pickups' });
    await service.stop();
    rows.push({
      what: `pickup at ${RATE}/s: direct publish → workflow handler`,
      items: n,
      p50: percentile(pickups, 50),
      p99: percentile(pickups, 99),
    });
  }
  // Through patch-status: transition commit (transition.createdAt) → workflow handler start.
  {
    const bus = await namespaceBus('benchlatps');
    const [patchDb, wfDb] = [await database('bench_ps'), await database('bench_ps_wf')];
    const patchStatus = await startPatchStatus({
      databaseUrl: patchDb.url,
      natsUrl: testNatsUrl(),
      namespace: bus.topology.namespace,
      logLevel: LOG,
    });
    cleanups.push(() => patchStatus.stop());
    const n = Math.round(RATE * SECONDS);
    const ids: string[] = [];
    for (let i = 0; i < n + Math.min(RATE, (n + RATE) >> 2); i++) {
      ids.push((await bus.call(patchEndpoints.create, { name: `2026.48.${i + 1}`, product: 'bench', actor: 'bench' })).patch.id);
    }
    const pickups: number[] = [];
    const service = await startWorkflowService(
      { workflow: WORKFLOW, natsUrl: testNatsUrl(), namespace: bus.topology.namespace, databaseUrl: wfDb.url, logLevel: LOG },
      () => noOpHandlers(pickups),
    );
    // Warm-up (not measured): connections, prepared statements and JIT, as a running system has.
    const warm = ids.splice(0, Math.min(RATE, ids.length >> 2));
    await Promise.all(
      warm.map((id) =>
        bus.call(patchEndpoints.transition, { patchId: id, action: 'markActive', actor: { name: 'bench', role: 'operator' } }),
      ),
    );
    await waitFor(() => pickups.length >= warm.length, { timeoutMs: 30_000, what: 'warm-up pickups' });
    pickups.length = 0;
    const roundTrips: number[] = [];
    await paced(async (i) => {
      const t0 = performance.now();
      await bus.call(patchEndpoints.transition, {
        patchId: ids[i]!,
        action: 'markActive',
        actor: { name: 'bench', role: 'operator' },
      });
      roundTrips.push(performance.now() - t0);
    });
    await waitFor(() => pickups.length >= n, { timeoutMs: 30_000, what: 'transition pickups' });
    await service.stop();
    rows.push({
      what: `pickup at ${RATE}/s: patch-status transition (createdAt, stamped before commit) → workflow handler`,
      items: n,
      p50: percentile(pickups, 50),
      p99: percentile(pickups, 99),
    });
    rows.push({
      what: `same run: transition request round trip (includes the commit)`,
      items: n,
      p50: percentile(roundTrips, 50),
      p99: percentile(roundTrips, 99),
    });
  }
}

const fmt = (v: number | undefined, digits = 0) => (v === undefined ? '' : v.toFixed(digits));
if (CPU_MODE) {
  await cpuPerItem({
    items: ITEMS,
    rounds: numberArg('--rounds', 3),
    baseline: stringArg('--baseline', ''),
    prof: stringArg('--prof', ''),
    logLevel: stringArg('--log-level', 'info'),
    rate: process.argv.includes('--rate') ? RATE : 0,
  });
  process.exit(0);
}
try {
  await throughput();
  await pickupLatency();
  console.log(
    `\nWorkflow benchmark (${new Date().toISOString()}, items ${ITEMS}, ${RATE}/s for ${SECONDS} s; latencies in ms, 1 ms clock)\n`,
  );
  console.log('| measurement | items | items/s | pickup p50 (ms) | pickup p99 (ms) |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const r of rows) console.log(`| ${r.what} | ${r.items} | ${fmt(r.perSecond)} | ${fmt(r.p50)} | ${fmt(r.p99)} |`);
} finally {
  for (const c of cleanups.reverse()) await c().catch((err: unknown) => console.error('cleanup failed', err));
}
process.exit(0);
