/**
 * `bench:workflows -- --cpu`: CPU ms per work item of one workflow service (its own process), of
 * its Postgres and of nats-server, each private to the run so nobody else's load is counted.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Bus } from '@patchflow/bus';
import { ensureDatabase } from '@patchflow/db';
import {
  buildWorkItem,
  connectTestBus,
  deleteNamespaceStreams,
  PrivateNatsServer,
  PrivatePostgres,
  repoRoot,
  uniqueNamespace,
  waitFor,
} from '@patchflow/testing';
import { cpuBetween, sampleCpu, type ProcessGroup } from './proc.js';
import { natsGroup, postgresGroup, processGroup } from './servers.js';

interface CpuRow {
  runtime: string;
  handler: 'noop' | 'typical';
  round: number;
  perSecond: number;
  workflowMs: number;
  postgresMs: number;
  natsMs: number;
}

const WARM_UP = 300;

/** Publishes `n` work items, 64 in flight; or, with `rate`, at a steady `rate` per second. */
async function publishAll(bus: Bus, n: number, rate = 0): Promise<void> {
  const t0 = performance.now();
  const inFlight = new Set<Promise<unknown>>();
  for (let i = 0; i < n; i++) {
    if (rate > 0) {
      const wait = t0 + (i * 1000) / rate - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    const w = buildWorkItem('markActive');
    const p = bus.publish(bus.topology.work('markActive'), w, { msgId: w.workId }).finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= 64) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
}

class WorkflowProcess {
  private succeeded = 0;
  private constructor(readonly child: ChildProcess) {
    child.on('message', (m: unknown) => {
      const stats = (m as { stats?: { succeeded: number } }).stats;
      if (stats) this.succeeded = stats.succeeded;
    });
  }

  static async start(env: Record<string, string>, execArgv: string[]): Promise<WorkflowProcess> {
    const child = fork(join(repoRoot, 'scripts/bench/workflow-process.ts'), [], {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      execArgv: ['--conditions=development', '--import', 'tsx', ...execArgv],
      // The service's log is written to a pipe, as under npm start, and discarded here.
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    });
    child.stdout?.resume();
    await new Promise<void>((ok, fail) => {
      child.once('message', (m) => (m === 'ready' ? ok() : fail(new Error(`unexpected ${String(m)}`))));
      child.once('exit', (code) => fail(new Error(`workflow process exited (${code})`)));
    });
    return new WorkflowProcess(child);
  }

  async waitSucceeded(n: number): Promise<void> {
    await waitFor(
      () => {
        this.child.send('stats');
        return this.succeeded >= n;
      },
      { timeoutMs: 300_000, intervalMs: 20, what: `${n} executions succeeded` },
    );
  }

  async stop(): Promise<void> {
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.send('stop');
    await exited;
  }
}

export async function cpuPerItem(o: {
  items: number;
  rounds: number;
  baseline: string;
  prof: string;
  logLevel: string;
  rate: number;
}): Promise<void> {
  const [postgres, nats] = await Promise.all([PrivatePostgres.create(), PrivateNatsServer.start()]);
  const runtimes: Array<{ label: string; entry: string }> = [{ label: 'current', entry: '' }];
  if (o.baseline) runtimes.unshift({ label: 'baseline', entry: o.baseline });
  const rows: CpuRow[] = [];
  try {
    for (let round = 1; round <= o.rounds; round++) {
      for (const handler of ['noop', 'typical'] as const) {
        for (const rt of runtimes) {
          const namespace = uniqueNamespace('benchcpu');
          const bus = await connectTestBus(namespace, nats.url, 'bench-cpu');
          const databaseUrl = postgres.url(`bench_cpu_${round}_${handler}_${rt.label}`);
          await ensureDatabase(databaseUrl);
          const prof = o.prof ? ['--cpu-prof', '--cpu-prof-dir', o.prof] : [];
          const wf = await WorkflowProcess.start(
            {
              NATS_URL: nats.url,
              BUS_NAMESPACE: namespace,
              WORKFLOW_DATABASE_URL: databaseUrl,
              BENCH_HANDLER: handler,
              BENCH_RUNTIME: rt.entry,
              LOG_LEVEL: o.logLevel,
            },
            prof,
          );
          try {
            await publishAll(bus, WARM_UP);
            await wf.waitSucceeded(WARM_UP);
            const groups: ProcessGroup[] = [
              processGroup('workflow', () => wf.child.pid),
              postgresGroup(postgres),
              natsGroup(nats),
            ];
            const before = sampleCpu(groups);
            const t0 = performance.now();
            await publishAll(bus, o.items, o.rate);
            await wf.waitSucceeded(WARM_UP + o.items);
            const seconds = (performance.now() - t0) / 1000;
            const used = cpuBetween(before, sampleCpu(groups));
            const per = (label: string) => (used.get(label) ?? NaN) / o.items;
            const row: CpuRow = {
              runtime: rt.label,
              handler,
              round,
              perSecond: o.items / seconds,
              workflowMs: per('workflow'),
              postgresMs: per('postgres (all processes)'),
              natsMs: per('nats-server'),
            };
            rows.push(row);
            console.error(JSON.stringify(row));
          } finally {
            await wf.stop();
            await deleteNamespaceStreams(bus).catch(() => undefined);
            await bus.close();
          }
        }
      }
    }
  } finally {
    await nats.dispose();
    await postgres.destroy();
  }
  const f = (v: number, d = 2) => v.toFixed(d);
  console.log(
    `\nWorkflow CPU per item (${new Date().toISOString()}, ${o.items} items after ${WARM_UP} warm-up, ${o.rate > 0 ? `published at ${o.rate}/s` : '64 published in flight'}; log level ${o.logLevel}; private Postgres and nats-server; CPU from /proc utime+stime)\n`,
  );
  console.log('| runtime | handler | round | items/s | workflow CPU ms/item | Postgres CPU ms/item | nats-server CPU ms/item |');
  console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows)
    console.log(
      `| ${r.runtime} | ${r.handler} | ${r.round} | ${f(r.perSecond, 0)} | ${f(r.workflowMs)} | ${f(r.postgresMs)} | ${f(r.natsMs)} |`,
    );
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  console.log('\nMedians over rounds\n');
  console.log('| runtime | handler | items/s | workflow CPU ms/item | Postgres CPU ms/item | nats-server CPU ms/item |');
  console.log('| --- | --- | ---: | ---: | ---: | ---: |');
  for (const handler of ['noop', 'typical'] as const) {
    for (const rt of runtimes) {
      const rs = rows.filter((r) => r.handler === handler && r.runtime === rt.label);
      console.log(
        `| ${rt.label} | ${handler} | ${f(median(rs.map((r) => r.perSecond)), 0)} | ${f(median(rs.map((r) => r.workflowMs)))} | ${f(median(rs.map((r) => r.postgresMs)))} | ${f(median(rs.map((r) => r.natsMs)))} |`,
      );
    }
  }
}
