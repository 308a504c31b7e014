/**
 * The command line of `npm run bench:e2e`, parsed without side effects so a test can check that
 * bad input is refused (the script prints the message and exits 2).
 */

export const systemNames = ['patchflow', 'pgboss', 'bullmq'] as const;
export type SystemName = (typeof systemNames)[number];

export interface BenchOptions {
  /** Transitions measured in the closed loop (settled/s, CPU per settled transition). */
  transitions: number;
  /** Concurrent callers of the closed loop; each waits for its transition to settle. */
  callers: number;
  /** Offered rates of the open loop (transitions/s, a fixed schedule). */
  rates: number[];
  /** How long each offered rate is held. */
  seconds: number;
  /** Each phase runs once per round, the systems taking turns inside it. */
  rounds: number;
  systems: SystemName[];
  redisUrl: string;
  /** Run Patchflow's services from their built `dist/` with plain node (as production), not tsx. */
  dist: boolean;
  /** Write a `--cpu-prof` of every Patchflow service into this directory. */
  profDir: string | undefined;
  /** Report Postgres statements, commits and sequential scans per settled transition. */
  statements: boolean;
  /** Another checkout of Patchflow (built) whose services run as one more row, taking turns. */
  baseline: string | undefined;
  /** The Patchflow row runs each workflow as its own process instead of the workflow host. */
  separateWorkflows: boolean;
}

export const HELP = `Usage: npm run bench:e2e [-- options]

End to end: a startDeployment *settled* (every routed workflow final, its steps stored), for the
whole Patchflow system (laid out as npm start runs it, private Postgres and nats-server, fake
GitLab/Jira/Slack answering at once) and two peers built in the benchmark: pg-boss (transition
SQL + one job per routed workflow in the same transaction) and BullMQ on Redis (jobs added after
commit). Both peers run the same four effects against the same stand-ins and write a step row per
step. Prints markdown tables: settled/s at C callers (closed loop), settle and pickup p50/p99 at
each offered rate (open loop), each Patchflow workflow's execution time (start to outcome) at
each rate, CPU ms per settled transition per process (from /proc, over the closed loop) and peak
RSS per process; each round's settled/s, and the first row against every other row as ratios
(CPU per settled transition, settled/s, settled/s by round). The systems take turns inside every
phase, so drift on a shared machine hits them alike.

Options:
  --transitions N   transitions in the closed loop, per round (default 200)
  --callers C       concurrent callers of the closed loop (default 16)
  --rates a,b       offered rates of the open loop, transitions/s (default 10,100)
  --seconds S       how long each offered rate is held (default 6)
  --rounds R        repeat every phase R times (default 1)
  --only NAME       patchflow, pgboss or bullmq (default: all three)
  --skip-peers      only the Patchflow row
  --redis-url URL   the Redis of the BullMQ row (default redis://127.0.0.1:6379; started
                    with redis-server when nothing answers there)
  --dist            run Patchflow's services from dist/ with plain node, as production does
                    (runs \`npm run build\` first); default: from source through tsx, as npm start
  --prof DIR        write a V8 CPU profile (.cpuprofile) of every Patchflow service into DIR
  --statements      also print each system's Postgres statements and commits per settled
                    transition over the closed loop, with their execution and planning time
                    (pg_stat_statements, preloaded, track_planning on), and the sequential
                    scans per table (pg_stat_user_tables)
  --separate-workflows  the Patchflow row runs each workflow as its own process (npm start --
                    --separate-workflows) instead of the workflow host
  --baseline DIR    one more row: Patchflow's services from another checkout DIR, laid out as
                    its npm start runs them (its \`npm ci && npm run build\` done, e.g. \`git worktree add DIR REV\`), from its
                    dist/ with its own node flags, on its own private servers, taking turns with
                    the others in every phase: a change measured against what it changed, in one
                    run (needs --dist; the settle check reads DIR's action-log with this
                    checkout's SQL, so DIR must be a recent revision)
  --help            this text`;

const DEFAULTS: BenchOptions = {
  transitions: 200,
  callers: 16,
  rates: [10, 100],
  seconds: 6,
  rounds: 1,
  systems: [...systemNames],
  redisUrl: 'redis://127.0.0.1:6379',
  dist: false,
  profDir: undefined,
  statements: false,
  baseline: undefined,
  separateWorkflows: false,
};

export type ParseResult = { help: true } | { options: BenchOptions } | { error: string };

const positiveInt = (name: string, raw: string, max: number): number | string => {
  const n = Number(raw);
  return /^\d+$/.test(raw) && n >= 1 && n <= max ? n : `${name} must be a whole number from 1 to ${max} (got "${raw}")`;
};

/** Parses `argv` (the arguments after the script); every problem is one line naming the option. */
export function parseBenchOptions(argv: string[]): ParseResult {
  const o: BenchOptions = { ...DEFAULTS, rates: [...DEFAULTS.rates], systems: [...DEFAULTS.systems] };
  let only: SystemName | undefined;
  let skipPeers = false;
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i]!;
    if (name === '--help' || name === '-h') return { help: true };
    if (name === '--skip-peers') {
      skipPeers = true;
      continue;
    }
    if (name === '--dist' || name === '--statements' || name === '--separate-workflows') {
      if (name === '--dist') o.dist = true;
      else if (name === '--statements') o.statements = true;
      else o.separateWorkflows = true;
      continue;
    }
    const known = [
      '--transitions',
      '--callers',
      '--rates',
      '--seconds',
      '--rounds',
      '--only',
      '--redis-url',
      '--prof',
      '--baseline',
    ];
    if (!known.includes(name)) return { error: `unknown option "${name}"` };
    const raw = argv[++i];
    if (raw === undefined || raw.startsWith('--')) return { error: `${name} needs a value` };
    let problem: string | undefined;
    const int = (max: number) => {
      const v = positiveInt(name, raw, max);
      if (typeof v === 'string') problem = v;
      return typeof v === 'number' ? v : 0;
    };
    switch (name) {
      case '--transitions':
        o.transitions = int(100_000);
        break;
      case '--callers':
        o.callers = int(1000);
        break;
      case '--seconds':
        o.seconds = int(3600);
        break;
      case '--rounds':
        o.rounds = int(100);
        break;
      case '--rates': {
        const parts = raw.split(',');
        const rates = parts.map((p) => positiveInt(name, p.trim(), 10_000));
        if (parts.some((p) => p.trim() === '') || rates.some((r) => typeof r === 'string')) {
          problem = `--rates must be whole numbers from 1 to 10000 separated by commas (got "${raw}")`;
        } else o.rates = rates as number[];
        break;
      }
      case '--only':
        if (!(systemNames as readonly string[]).includes(raw))
          problem = `--only must be one of ${systemNames.join(', ')} (got "${raw}")`;
        else only = raw as SystemName;
        break;
      case '--prof':
        o.profDir = raw;
        break;
      case '--baseline':
        o.baseline = raw;
        break;
      case '--redis-url':
        if (!/^redis:\/\/[^/:]+(:\d+)?\/?$/.test(raw)) problem = `--redis-url must look like redis://host:port (got "${raw}")`;
        else o.redisUrl = raw;
        break;
    }
    if (problem) return { error: problem };
  }
  if (only && skipPeers && only !== 'patchflow') return { error: `--only ${only} and --skip-peers leave nothing to run` };
  if (o.baseline !== undefined && !o.dist) return { error: '--baseline runs from dist/: add --dist' };
  if (only) o.systems = [only];
  else if (skipPeers) o.systems = ['patchflow'];
  return { options: o };
}
