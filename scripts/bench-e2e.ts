/**
 * `npm run bench:e2e`: what users wait for under load — a startDeployment *settled* (every
 * routed workflow final, its steps stored) — for the whole Patchflow system and two peers built
 * here (pg-boss, BullMQ), in one run. See `--help` and scripts/bench/.
 */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { percentile } from './bench-kit.js';
import { closedLoop, openLoop } from './bench/load.js';
import { HELP, parseBenchOptions, type SystemName } from './bench/options.js';
import { cpuBetween, memoryMb, sampleCpu } from './bench/proc.js';
import {
  collectStatements,
  readStatements,
  resetStatements,
  type StatementReport,
  type StatementRow,
} from './bench/pg-statements.js';
import type { Settled } from './bench/settle.js';
import type { BenchSystem } from './bench/system.js';
import { analyzeDatabases } from './bench/servers.js';

const parsed = parseBenchOptions(process.argv.slice(2));
if ('help' in parsed) {
  console.log(HELP);
  process.exit(0);
}
if ('error' in parsed) {
  console.error(`bench:e2e: ${parsed.error}; see --help`);
  process.exit(2);
}
const options = parsed.options;
if (options.baseline !== undefined && !existsSync(join(resolve(options.baseline), 'services/gateway/dist/main.js'))) {
  console.error(
    `bench:e2e: --baseline ${options.baseline}: no services/gateway/dist/main.js there; run \`npm ci && npm run build\` in it first`,
  );
  process.exit(2);
}
const say = (line: string) => process.stderr.write(`bench:e2e: ${line}\n`);

async function startSystem(name: SystemName): Promise<BenchSystem> {
  switch (name) {
    case 'patchflow':
      return (await import('./bench/patchflow-system.js')).PatchflowSystem.start(
        {
          fromDist: options.dist,
          ...(options.profDir ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${resolve(options.profDir)}`] } : {}),
        },
        options.separateWorkflows ? 'Patchflow (workflows in own processes)' : 'Patchflow',
        !options.separateWorkflows,
      );
    case 'pgboss':
      return (await import('./bench/pgboss-system.js')).PgBossSystem.start();
    case 'bullmq':
      return (await import('./bench/bullmq-system.js')).BullmqSystem.start(options.redisUrl);
  }
}

/**
 * `--baseline DIR`: Patchflow from another checkout, from its dist/ (checked at the start), with
 * the node flags that checkout declares (none before SERVICE_NODE_FLAGS existed), laid out as its
 * npm start runs it (the workflow host when it has one).
 */
async function startBaseline(dir: string): Promise<BenchSystem> {
  const root = resolve(dir);
  let rev = 'unknown revision';
  try {
    rev = execFileSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD']).toString().trim();
  } catch {
    // not a git checkout: the label says so
  }
  const config = (await import(pathToFileURL(join(root, 'libs/config/dist/index.js')).href)) as {
    SERVICE_NODE_FLAGS?: readonly string[];
  };
  return (await import('./bench/patchflow-system.js')).PatchflowSystem.start(
    {
      fromDist: true,
      root,
      serviceFlags: config.SERVICE_NODE_FLAGS ?? [],
      ...(options.profDir ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${resolve(options.profDir, 'baseline')}`] } : {}),
    },
    `Patchflow baseline (${rev})`,
    existsSync(join(root, 'services/workflows/dist/main.js')),
  );
}

interface Results {
  closed: { count: number; seconds: number }[];
  cpu: Map<string, number>;
  cpuSettled: number;
  open: Map<number, Settled[]>;
  pickups: Map<number, number[]>;
  /** Per offered rate, per workflow: start → outcome of each execution (systems that report it). */
  executions: Map<number, Map<string, number[]>>;
  /** CPU of all processes (the harness's settle checks excepted) over each offered rate, and what settled meanwhile. */
  openCpu: Map<number, { ms: number; settled: number; byProcess: Map<string, number> }>;
  memory: Map<string, number>;
  /** `--statements`: commits, statements and sequential scans over the closed loops, summed over rounds. */
  pg: { commits: number; statements: Map<string, StatementRow>; seqScans: Map<string, number> };
}

const ms = (v: number) => (Number.isFinite(v) ? (v >= 100 ? v.toFixed(0) : v.toFixed(1)) : '–');
const pair = (values: number[]) => (values.length ? `${ms(percentile(values, 50))} / ${ms(percentile(values, 99))}` : '–');

/** Settled/s of each closed-loop round, in the order the rounds ran. */
const roundRates = (r: Results) => r.closed.map((c) => c.count / c.seconds);
/** The closed loop's settled/s of a row: the median round (the upper one of two). */
const medianRate = (r: Results) => [...roundRates(r)].sort((a, b) => a - b)[r.closed.length >> 1] ?? NaN;

/**
 * The first row (this checkout's Patchflow) against every other row of the run: CPU per settled
 * transition and settled/s as ratios, and the throughput ratio round by round (the rounds ran
 * back to back, so each ratio compares rows measured minutes apart; the machine drifts more
 * between runs than within one round).
 */
function againstOthers(
  systems: readonly BenchSystem[],
  results: Map<BenchSystem, Results>,
  cpu: Map<BenchSystem, number>,
): string {
  const [first, ...others] = systems;
  if (!first || others.length === 0) return '';
  const mine = roundRates(results.get(first)!);
  const parts = others.map((o) => {
    const theirs = roundRates(results.get(o)!);
    const ratios = mine.map((m, i) => m / (theirs[i] ?? NaN));
    const cpuRatio = (cpu.get(first) ?? NaN) / (cpu.get(o) ?? NaN);
    const rounds = ratios.length > 1 ? ` (by round ${ratios.map((x) => `${x.toFixed(2)}×`).join(', ')})` : '';
    return `against ${o.label}: CPU per settled ${cpuRatio.toFixed(2)}×, settled/s ${(medianRate(results.get(first)!) / medianRate(results.get(o)!)).toFixed(2)}×${rounds}`;
  });
  return `${first.label} ${parts.join('; ')} (above 1× in CPU it spends more; below 1× in settled/s it settles fewer).`;
}

/** The commit the services ran from, and whether the working tree had changes on top. */
function revision(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD']).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no']).toString().trim() !== '';
    return dirty ? `${head} (with uncommitted changes)` : head;
  } catch {
    return 'an unknown revision';
  }
}

/** All processes' CPU ms per transition settled while `rate` was offered ('–' when none settled). */
function cpuAtRate(r: Results, rate: number): string {
  const c = r.openCpu.get(rate);
  return c && c.settled > 0 ? (c.ms / c.settled).toFixed(1) : '–';
}

function print(systems: readonly BenchSystem[], results: Map<BenchSystem, Results>, startedAt: Date, load: number[]): void {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const out: string[] = [];
  out.push(`### bench:e2e — ${startedAt.toISOString()}`);
  out.push('');
  out.push(
    `Machine: ${cpus().length} CPUs (${cpu}), Node ${process.version}; load average (1/5/15 min) at start ${load.map((l) => l.toFixed(2)).join(' ')}, ` +
      `at the end ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}. Patchflow ran from the working tree at ${revision()}, ` +
      `${options.dist ? 'its services from dist/ with plain node (as production)' : 'its services from source through tsx (as npm start)'}. ` +
      `A shared machine: other work ran too, so compare rows of one run, not runs. Action: startDeployment on active patches (4 routed workflows); ` +
      `closed loop ${options.transitions} × ${options.rounds} round(s) at ${options.callers} callers; open loop ${options.seconds} s per rate; latencies in ms.`,
  );
  out.push('');
  const rateCols = options.rates.flatMap((r) => [
    `settle p50 / p99 at ${r}/s`,
    `pickup p50 / p99 at ${r}/s`,
    `CPU ms / settled at ${r}/s`,
  ]);
  out.push(`| system | settled/s at ${options.callers} callers | ${rateCols.join(' | ')} |`);
  out.push(`| --- | ---: | ${rateCols.map(() => '---:').join(' | ')} |`);
  for (const s of systems) {
    const r = results.get(s)!;
    const median = medianRate(r);
    const cols = options.rates.flatMap((rate) => [
      pair((r.open.get(rate) ?? []).map((x) => x.settledAt - x.committedAt)),
      pair((r.pickups.get(rate) ?? []).filter(Number.isFinite)),
      cpuAtRate(r, rate),
    ]);
    out.push(`| ${s.label} | ${median.toFixed(1)} | ${cols.join(' | ')} |`);
  }
  out.push('');
  if (options.rounds > 1) {
    const byRound = systems.map(
      (s) =>
        `${s.label} ${roundRates(results.get(s)!)
          .map((v) => v.toFixed(1))
          .join(', ')}`,
    );
    out.push(`Closed loop by round, settled/s (the table gives the median): ${byRound.join('; ')}.`);
    out.push('');
  }
  const timed = systems.filter((s) => [...results.get(s)!.executions.values()].some((m) => m.size > 0));
  if (timed.length > 0) {
    const workflows = [
      ...new Set(timed.flatMap((s) => [...results.get(s)!.executions.values()].flatMap((m) => [...m.keys()]))),
    ].sort();
    out.push('Execution time (its start → its outcome, from the action-log) p50 / p99 per workflow, ms:');
    out.push('');
    out.push(`| system | rate | ${workflows.join(' | ')} |`);
    out.push(`| --- | ---: | ${workflows.map(() => '---:').join(' | ')} |`);
    for (const s of timed)
      for (const rate of options.rates) {
        const m = results.get(s)!.executions.get(rate);
        out.push(`| ${s.label} | ${rate}/s | ${workflows.map((w) => pair(m?.get(w) ?? [])).join(' | ')} |`);
      }
    out.push('');
  }
  out.push(
    'Settled: Patchflow — every routed execution final in the action-log with its steps (checked when its live-update ping says the work item settled, and every 250 ms); ' +
      'pg-boss — every job of the transition `completed` in pgboss.job (polled every 20 ms; pg-boss has no completion event); ' +
      'BullMQ — every job completed (QueueEvents). Pickup: commit → the first routed workflow started. ' +
      'CPU at a rate: all processes from the first offered transition until the last settled, over the transitions settled (what a quiet system spends between them counts too). ' +
      'Peers: one worker process per workflow; pg-boss 2 work() loops × batchSize 16 per queue, polling 0.5 s; BullMQ concurrency 16 per worker. ' +
      "Every row's databases are ANALYZEd after its warm-up (as autovacuum would within a minute or two), so no row is measured on plans cached while its tables were empty.",
  );
  out.push('');
  out.push(
    'CPU ms per settled transition (utime + stime from /proc, before and after the closed loop, and over each offered rate) and memory, per process:',
  );
  out.push('');
  const totals: string[] = [];
  const cpuTotals = new Map<BenchSystem, number>();
  const atRates = options.rates.map((rate) => `CPU ms / settled at ${rate}/s`);
  out.push(`| system | process | CPU ms / settled, ${options.callers} callers | ${atRates.join(' | ')} | peak RSS MB |`);
  out.push(`| --- | --- | ---: | ${atRates.map(() => '---:').join(' | ')} | ---: |`);
  for (const s of systems) {
    const r = results.get(s)!;
    let total = 0;
    const atRate = (rate: number, label: string) => {
      const c = r.openCpu.get(rate);
      return c && c.settled > 0 ? ((c.byProcess.get(label) ?? 0) / c.settled).toFixed(2) : '–';
    };
    for (const g of s.processes()) {
      const used = (r.cpu.get(g.label) ?? 0) / Math.max(1, r.cpuSettled);
      if (!g.harness) total += used;
      const rates = options.rates.map((rate) => atRate(rate, g.label));
      out.push(
        `| ${s.label} | ${g.label} | ${used.toFixed(2)} | ${rates.join(' | ')} | ${(r.memory.get(g.label) ?? 0).toFixed(0)} |`,
      );
    }
    const rateTotals = options.rates.map((rate) => ((v) => (v === '–' ? v : `**${v}**`))(cpuAtRate(r, rate)));
    out.push(`| ${s.label} | **all processes** | **${total.toFixed(1)}** | ${rateTotals.join(' | ')} | |`);
    totals.push(`${s.label} ${total.toFixed(1)} ms`);
    cpuTotals.set(s, total);
  }
  out.push('');
  out.push(`CPU per settled transition, all processes: ${totals.join('; ')} (DESIGN.md's budget for Patchflow: ≤ 12 ms).`);
  const against = againstOthers(systems, results, cpuTotals);
  if (against) out.push('', against);
  for (const note of systems.flatMap((s) => s.notes?.() ?? [])) out.push(`\n${note}.`);
  out.push('');
  out.push(
    'Peak RSS is VmHWM of each process over the whole run; for Postgres (many processes) it is the sum of their proportional set sizes (Pss) at the end, shared buffers counted once. ' +
      '"load driver + HTTP stand-ins" is this script (the same process for every row: the peers\' transition SQL and job producers run in it too).',
  );
  if (options.statements) out.push('', ...statementTables(systems, results));
  console.log(`\n${out.join('\n')}`);
}

function addStatements(into: Results['pg'], report: StatementReport): void {
  into.commits += report.commits;
  for (const [table, n] of report.seqScans) into.seqScans.set(table, (into.seqScans.get(table) ?? 0) + n);
  for (const row of report.statements) {
    const key = `${row.database}\u0000${row.query}`;
    const seen = into.statements.get(key);
    if (seen) {
      seen.calls += row.calls;
      seen.execMs += row.execMs;
      seen.planMs += row.planMs;
      seen.rows += row.rows;
    } else into.statements.set(key, { ...row });
  }
}

/** `--statements`: per system, commits and the most frequent statements per settled transition. */
function statementTables(systems: readonly BenchSystem[], results: Map<BenchSystem, Results>): string[] {
  const out = [
    "Postgres per settled transition over the closed loop (pg_stat_statements; the driver's settle checks included, " +
      'BEGIN/COMMIT counted as statements; "commits" from pg_stat_database):',
    '',
  ];
  for (const s of systems) {
    const r = results.get(s)!;
    const per = (v: number) => v / Math.max(1, r.cpuSettled);
    const rows = [...r.pg.statements.values()].sort((a, b) => b.calls - a.calls);
    const calls = rows.reduce((sum, row) => sum + row.calls, 0);
    out.push(
      `**${s.label}**: ${per(r.pg.commits).toFixed(1)} commits and ${per(calls).toFixed(1)} statements per settled transition.`,
    );
    const byDatabase = new Map<string, { calls: number; execMs: number; planMs: number }>();
    for (const row of rows) {
      const d = byDatabase.get(row.database) ?? { calls: 0, execMs: 0, planMs: 0 };
      byDatabase.set(row.database, { calls: d.calls + row.calls, execMs: d.execMs + row.execMs, planMs: d.planMs + row.planMs });
    }
    out.push(
      `By database (statements, execution ms, planning ms): ${[...byDatabase]
        .sort((a, b) => b[1].calls - a[1].calls)
        .map(([name, d]) => `${name} ${per(d.calls).toFixed(1)}, ${per(d.execMs).toFixed(2)} ms, ${per(d.planMs).toFixed(2)} ms`)
        .join('; ')}.`,
    );
    const scans = [...r.pg.seqScans].filter(([, n]) => per(n) >= 0.01).sort((a, b) => b[1] - a[1]);
    out.push(
      `Sequential scans per settled transition (pg_stat_user_tables, close: backends report once a second): ${
        scans.length ? scans.map(([table, n]) => `${table} ${per(n).toFixed(2)}`).join('; ') : 'none'
      }.`,
    );
    out.push('');
    out.push('| database | calls / settled | exec ms / settled | plan ms / settled | rows / call | statement |');
    out.push('| --- | ---: | ---: | ---: | ---: | --- |');
    for (const row of rows.slice(0, 20)) {
      const query = row.query.length > 110 ? `${row.query.slice(0, 107)}…` : row.query;
      out.push(
        `| ${row.database} | ${per(row.calls).toFixed(2)} | ${per(row.execMs).toFixed(3)} | ${per(row.planMs).toFixed(3)} | ${(row.rows / Math.max(1, row.calls)).toFixed(1)} | \`${query.replace(/\|/g, '\\|').replace(/`/g, "'")}\` |`,
      );
    }
    out.push('');
  }
  return out;
}

/** Every system started so far: stopped on the way out, however the run ends. */
const systems: BenchSystem[] = [];
let stopping: Promise<void> | undefined;
function stopAll(): Promise<void> {
  stopping ??= (async () => {
    for (const s of systems) await s.stop().catch((err: unknown) => say(`stopping ${s.label} failed: ${String(err)}`));
  })();
  return stopping;
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    say(`${signal}: stopping every process this run started…`);
    void stopAll().finally(() => process.exit(130));
  });
}
process.on('unhandledRejection', (err) => {
  console.error(err);
  void stopAll().finally(() => process.exit(1));
});

async function main(): Promise<void> {
  const startedAt = new Date();
  const load = loadavg();
  const results = new Map<BenchSystem, Results>();
  const patches = new Map<BenchSystem, string[]>();
  try {
    if (options.statements) collectStatements();
    if (options.dist && options.systems.includes('patchflow')) {
      say('building dist/ (npm run build)…');
      execFileSync('npm', ['run', 'build'], { stdio: ['ignore', 2, 2] });
    }
    const starts: { what: string; start: () => Promise<BenchSystem> }[] = options.systems.map((name) => ({
      what: name,
      start: () => startSystem(name),
    }));
    const baseline = options.baseline;
    // Right after Patchflow's row, so the two take turns next to each other.
    if (baseline !== undefined)
      starts.splice(1, 0, { what: `the baseline in ${baseline}`, start: () => startBaseline(baseline) });
    for (const { what, start } of starts) {
      say(`starting ${what}…`);
      const s = await start();
      systems.push(s);
      results.set(s, {
        closed: [],
        cpu: new Map(),
        cpuSettled: 0,
        open: new Map(),
        pickups: new Map(),
        executions: new Map(),
        openCpu: new Map(),
        memory: new Map(),
        pg: { commits: 0, statements: new Map(), seqScans: new Map() },
      });
    }
    const perRound = options.transitions + options.rates.reduce((sum, r) => sum + Math.round(r * options.seconds), 0);
    for (const s of systems) {
      say(`${s.label}: warm-up, ${perRound * options.rounds} patches created and marked active…`);
      const t0 = performance.now();
      patches.set(s, await s.prepare(perRound * options.rounds));
      say(`${s.label}: warm-up done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      const server = s.postgresServer?.();
      if (server) say(`${s.label}: analyzed ${(await analyzeDatabases(server)).join(', ')}`);
    }
    for (let round = 0; round < options.rounds; round++) {
      // Each round the order rotates, so no row always runs first (or right after another).
      const order = systems.map((_, i) => systems[(i + round) % systems.length]!);
      for (const s of order) {
        const r = results.get(s)!;
        const groups = s.processes();
        const server = options.statements ? s.postgresServer?.() : undefined;
        const statementsBefore = server ? await resetStatements(server) : undefined;
        const before = sampleCpu(groups);
        const run = await closedLoop(s, patches.get(s)!, options.transitions, options.callers);
        const after = sampleCpu(groups);
        if (server && statementsBefore) addStatements(r.pg, await readStatements(server, statementsBefore));
        for (const [label, used] of cpuBetween(before, after)) r.cpu.set(label, (r.cpu.get(label) ?? 0) + used);
        r.cpuSettled += run.settled.length;
        r.closed.push({ count: run.settled.length, seconds: run.seconds });
        say(`round ${round + 1}: ${s.label} closed loop ${(run.settled.length / run.seconds).toFixed(1)} settled/s`);
      }
      for (const rate of options.rates) {
        for (const s of order) {
          const r = results.get(s)!;
          const groups = s.processes();
          const before = sampleCpu(groups);
          const settled = await openLoop(s, patches.get(s)!, rate, options.seconds);
          const used = cpuBetween(before, sampleCpu(groups));
          const cpuMs = groups.filter((g) => !g.harness).reduce((sum, g) => sum + (used.get(g.label) ?? 0), 0);
          const had = r.openCpu.get(rate) ?? { ms: 0, settled: 0, byProcess: new Map<string, number>() };
          for (const [label, ms] of used) had.byProcess.set(label, (had.byProcess.get(label) ?? 0) + ms);
          r.openCpu.set(rate, { ms: had.ms + cpuMs, settled: had.settled + settled.length, byProcess: had.byProcess });
          r.open.set(rate, [...(r.open.get(rate) ?? []), ...settled]);
          r.pickups.set(rate, [...(r.pickups.get(rate) ?? []), ...(await s.pickups(settled))]);
          const times = await s.executionTimes?.(settled);
          const atRate = r.executions.get(rate) ?? new Map<string, number[]>();
          for (const [workflow, list] of times ?? []) atRate.set(workflow, [...(atRate.get(workflow) ?? []), ...list]);
          r.executions.set(rate, atRate);
          const lat = settled.map((x) => x.settledAt - x.committedAt);
          say(
            `round ${round + 1}: ${s.label} at ${rate}/s settle p50 ${ms(percentile(lat, 50))} p99 ${ms(percentile(lat, 99))} ms`,
          );
        }
      }
    }
    for (const s of systems) for (const g of s.processes()) results.get(s)!.memory.set(g.label, memoryMb(g));
    print(systems, results, startedAt, load);
  } finally {
    await stopAll();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
