/**
 * `npm start`: checks Postgres and NATS, creates the databases and JetStream streams, then runs
 * every service in services/ as its own process in the foreground, with its output prefixed.
 * Ctrl-C or SIGTERM stops them all (in reverse start order); if one dies, all are stopped.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { Bus, BusUnreachableError } from '@patchflow/bus';
import { commonEnv, EnvError, natsConnection, parseEnv } from '@patchflow/config';
import { checkDatabase, DatabaseUnreachableError, ensureDatabase } from '@patchflow/db';
import { createLogger } from '@patchflow/log';

const HELP = `Usage: npm start [-- --only name1,name2] [--nats-credentials DIR]

Starts Patchflow: checks Postgres and NATS, creates missing databases, creates or updates the
JetStream streams, and runs every service under services/ (each applies its migrations at start).
Ctrl-C stops everything.

Options:
  --only a,b                start only these services (e.g. --only patch-status,gateway)
  --nats-credentials DIR    run each service as its own NATS user, with DIR/<service>.env
                            (and streams created as DIR/ops.env); make DIR with npm run nats:config
  --help                    this text

Environment: DATABASE_URL, NATS_URL, LOG_LEVEL, BUS_NAMESPACE and each service's own (README).`;

/** patch-status first: the others call it. The gateway last: it is the door. */
const ORDER = ['patch-status', 'action-log'];
const LAST = ['gateway'];

const colors = [36, 35, 33, 32, 34, 91, 92, 93];
const paint = (i: number, s: string) => (process.stdout.isTTY ? `\x1b[${colors[i % colors.length]}m${s}\x1b[0m` : s);

function discoverServices(): string[] {
  const all = readdirSync('services').filter((d) => existsSync(join('services', d, 'src', 'main.ts')));
  const rank = (s: string) => (ORDER.includes(s) ? ORDER.indexOf(s) - 100 : LAST.includes(s) ? 100 : 0);
  return all.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** pino JSON lines shown as `12:00:01 INFO message key=value`; anything else as it is. */
function formatLine(line: string): string {
  try {
    const { level, time, msg, service: _s, name: _n, pid: _p, hostname: _h, ...rest } = JSON.parse(line) as Record<string, unknown>;
    const lvl = ({ 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' } as Record<string, string>)[String(level)] ?? String(level);
    const extra = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
    return `${new Date(Number(time)).toISOString().slice(11, 19)} ${lvl.padEnd(5)} ${String(msg ?? '')} ${extra}`.trimEnd();
  } catch {
    return line;
  }
}

/** `KEY=value` lines (comments and blank lines skipped), as written by `npm run nats:config`. */
function readEnvFile(path: string): Record<string, string> {
  if (!existsSync(path)) throw new EnvError(`${path} is missing; write it with \`npm run nats:config -- --out <dir>\``);
  const vars: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^\s*([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) vars[m[1]] = m[2].trim();
  }
  return vars;
}

async function main(): Promise<void> {
  if (process.argv.includes('--help')) return void console.log(HELP);
  const onlyIndex = process.argv.indexOf('--only');
  const onlyArg = onlyIndex >= 0 ? process.argv[onlyIndex + 1] : undefined;
  const credIndex = process.argv.indexOf('--nats-credentials');
  const credDir = credIndex >= 0 ? process.argv[credIndex + 1] : undefined;
  if (credIndex >= 0 && (!credDir || credDir.startsWith('--'))) throw new EnvError('--nats-credentials needs a directory (see --help)');
  const credentialsOf = (principal: string) => (credDir ? readEnvFile(join(credDir, `${principal}.env`)) : {});
  const env = parseEnv(z.object(commonEnv), { ...process.env, ...credentialsOf('ops') });
  const logger = createLogger('start', 'warn');

  // 1. The servers, each checked with a one-line answer when it is not there.
  const serverUrl = new URL(env.DATABASE_URL);
  serverUrl.pathname = '/postgres';
  await checkDatabase(serverUrl.toString());
  const bus = await Bus.connect({ ...natsConnection(env), name: 'start', namespace: env.BUS_NAMESPACE, logger });

  // 2. Databases and streams.
  const dbVars = ['DATABASE_URL', 'ACTION_LOG_DATABASE_URL', 'WORKFLOW_DATABASE_URL'];
  const defaults: Record<string, string> = {
    ACTION_LOG_DATABASE_URL: 'postgres://root@127.0.0.1:5432/patchflow_action_log',
    WORKFLOW_DATABASE_URL: 'postgres://root@127.0.0.1:5432/patchflow_workflows',
  };
  for (const v of dbVars) {
    const url = process.env[v] || defaults[v] || env.DATABASE_URL;
    if (await ensureDatabase(url)) console.log(`created database ${new URL(url).pathname.slice(1)}`);
  }
  await bus.ensureStreams();
  console.log(`streams ready: ${Object.values(bus.topology.streams).map((s) => s.name).join(', ')}`);
  await bus.close();

  // 3. The gateway admits no anonymous caller: without configured tokens, make one for this run.
  let devToken: string | undefined;
  if (!process.env.GATEWAY_TOKENS) {
    devToken = randomBytes(18).toString('base64url');
    process.env.GATEWAY_TOKENS = `dev:admin:${devToken}`;
  }

  // 4. The services.
  const services = discoverServices().filter((s) => !onlyArg || onlyArg.split(',').includes(s));
  if (services.length === 0) throw new Error(`no services match --only ${onlyArg}`);
  // Read every credentials file before starting anything: a missing one stops the start here.
  const serviceEnv = Object.fromEntries(services.map((s) => [s, { ...process.env, ...credentialsOf(s) }]));
  const children: { name: string; child: ChildProcess }[] = [];
  let stopping = false;

  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    for (const { name, child } of [...children].reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const killed = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killed);
      console.log(`stopped ${name}`);
    }
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  services.forEach((name, i) => {
    const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', join('services', name, 'src', 'main.ts')], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: serviceEnv[name],
    });
    const prefix = paint(i, `[${name}]`.padEnd(22));
    for (const stream of [child.stdout, child.stderr]) {
      let buf = '';
      stream?.on('data', (d: Buffer) => {
        buf += d.toString();
        const lines = buf.split('\n');
        buf = lines.pop() ?? '';
        for (const l of lines) if (l.trim()) console.log(`${prefix} ${formatLine(l)}`);
      });
    }
    child.once('exit', (code, signal) => {
      if (stopping) return;
      console.error(`${prefix} exited (${signal ?? `code ${code}`}); stopping everything`);
      void stopAll(1);
    });
    children.push({ name, child });
  });
  console.log(`started ${services.join(', ')}`);
  if (services.includes('gateway')) {
    console.log(`\n  Action History UI: http://127.0.0.1:${process.env.GATEWAY_PORT || 8080}/`);
    if (devToken) console.log(`  Sign in with the development admin token ${devToken} (set GATEWAY_TOKENS to choose your own)`);
    console.log('');
  }
}

main().catch((err: unknown) => {
  if (err instanceof EnvError || err instanceof DatabaseUnreachableError || err instanceof BusUnreachableError) {
    console.error(`patchflow: ${err.message}`);
  } else {
    console.error(err);
  }
  process.exit(1);
});
