/**
 * The supervisor behind `npm start` (scripts/start.mjs parses the command line, checks the ports
 * and installs, then calls `supervise`): checks Postgres and NATS, creates the databases and
 * JetStream streams, then runs every service as its own process with its output prefixed, like a small
 * process manager:
 *
 * - ready means ready: the banner comes once every service's /readyz answers 200;
 * - a service that exits is restarted with backoff (0.5 s, doubling); one that exits 5 times
 *   within a minute stops everything, with its last error in one line; one that cannot start as
 *   configured (exit 2 before it was ever ready) stops everything at once;
 * - SIGINT, SIGTERM or SIGHUP stops every service (gateway first, patch-status last) and exits; a
 *   second signal kills them at once. The services run in their own process group (a Ctrl-C in
 *   the terminal reaches only this process, which stops them in order), are told this pid
 *   (SUPERVISOR_PID: they stop themselves if it disappears, even on SIGKILL), and this process
 *   stops everything when its parent (npm) goes away.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { z } from 'zod';
import { Bus, BusUnreachableError } from '@patchflow/bus';
import { commonEnv, envInt, EnvError, natsConnection, parseEnv } from '@patchflow/config';
import { checkDatabase, DatabaseUnreachableError, ensureDatabase } from '@patchflow/db';
import { createLogger } from '@patchflow/log';

export interface SuperviseOptions {
  /** The services to run, in start order (names of folders under services/). */
  services: string[];
  /** Every service's health port (HEALTH_PORT). */
  healthPorts: Record<string, number>;
  /** Directory of per-service NATS credentials (`npm run nats:config`). */
  natsCredentials?: string | undefined;
}

/** A crash loop: this many exits of one service within the window stop the run. */
const CRASH_LIMIT = 5;
const CRASH_WINDOW_MS = 60_000;
const RESTART_BASE_MS = 500;
const RESTART_MAX_MS = 10_000;
/** A service gets this long to stop after SIGTERM (workflows finish in-flight work) before SIGKILL. */
const STOP_GRACE_MS = 15_000;
/** While waiting for readiness, say who is still not ready this often. */
const WAITING_NOTICE_MS = 10_000;

const runnerEnv = z.object({
  ...commonEnv,
  /** Only to print the address; the gateway reads it itself. */
  GATEWAY_PORT: envInt(1, 65_535).default(8080),
  GATEWAY_HOST: z.string().min(1).default('127.0.0.1'),
});

const colors = [36, 35, 33, 32, 34, 91, 92, 93];
const paint = (i: number, s: string) => (process.stdout.isTTY ? `\x1b[${colors[i % colors.length]}m${s}\x1b[0m` : s);
const ordinal = (n: number) => `${n}${n % 100 >= 11 && n % 100 <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][n % 10] ?? 'th')}`;
const say = (line: string) => console.log(`patchflow: ${line}`);

/** Starts everything and supervises it until a signal or a crash loop ends the run (exits the process). */
export async function supervise(options: SuperviseOptions): Promise<void> {
  // A closed terminal or pipe must not kill the supervisor before it has stopped its children.
  process.stdout.on('error', () => undefined);
  process.stderr.on('error', () => undefined);
  try {
    await run(options);
  } catch (err) {
    if (err instanceof EnvError || err instanceof DatabaseUnreachableError || err instanceof BusUnreachableError) {
      console.error(`patchflow: ${err.message.replace(/\n\s*/g, ' ')}`);
      process.exit(err instanceof EnvError ? 2 : 1);
    }
    console.error(err);
    process.exit(1);
  }
}

async function run({ services, healthPorts, natsCredentials }: SuperviseOptions): Promise<void> {
  const credentialsOf = (principal: string) => (natsCredentials ? readEnvFile(join(natsCredentials, `${principal}.env`)) : {});
  const env = parseEnv(runnerEnv, { ...process.env, ...credentialsOf('ops') });
  // Read every credentials file before starting anything: a missing one stops the start here.
  const serviceEnv = Object.fromEntries(services.map((s) => [s, { ...process.env, ...credentialsOf(s) }]));

  // 1. The servers (start.mjs has checked the ports), each checked with a one-line answer when it is not there.
  const serverUrl = new URL(env.DATABASE_URL);
  serverUrl.pathname = '/postgres';
  await checkDatabase(serverUrl.toString());
  const bus = await Bus.connect({ ...natsConnection(env), name: 'start', namespace: env.BUS_NAMESPACE, logger: createLogger('start', 'warn') });

  // 2. Databases and streams.
  const defaults: Record<string, string> = {
    ACTION_LOG_DATABASE_URL: 'postgres://root@127.0.0.1:5432/patchflow_action_log',
    WORKFLOW_DATABASE_URL: 'postgres://root@127.0.0.1:5432/patchflow_workflows',
  };
  for (const v of ['DATABASE_URL', 'ACTION_LOG_DATABASE_URL', 'WORKFLOW_DATABASE_URL']) {
    const url = process.env[v] || defaults[v] || env.DATABASE_URL;
    if (await ensureDatabase(url)) say(`created database ${new URL(url).pathname.slice(1)}`);
  }
  await bus.ensureStreams();
  say(`streams ready: ${Object.values(bus.topology.streams).map((s) => s.name).join(', ')}`);
  await bus.close();

  // 3. The gateway admits no anonymous caller: without configured tokens, make one for this run.
  let devToken: string | undefined;
  if (!process.env.GATEWAY_TOKENS && services.includes('gateway')) {
    devToken = randomBytes(18).toString('base64url');
    for (const e of Object.values(serviceEnv)) e.GATEWAY_TOKENS = `dev:admin:${devToken}`;
  }

  // 4. The services, supervised.
  const supervisor = new Supervisor(
    services.map((name, i) => ({ name, color: i, healthPort: healthPorts[name]!, env: serviceEnv[name]! })),
  );
  supervisor.start();
  say(`starting ${services.join(', ')}; waiting until each answers ready (health ports ${services.map((s) => healthPorts[s]).join(', ')})`);
  await supervisor.allReady();
  const lines = [services.length === 1 ? `${services[0]} is ready` : `all ${services.length} services are ready`];
  if (services.includes('gateway')) {
    lines.push(`Action History UI: http://${env.GATEWAY_HOST === '0.0.0.0' ? '127.0.0.1' : env.GATEWAY_HOST}:${env.GATEWAY_PORT}/`);
    if (devToken) lines.push(`Sign in with the development admin token ${devToken} (set GATEWAY_TOKENS to choose your own)`);
  }
  console.log(`\n${lines.map((l) => `  ${l}`).join('\n')}\n`);
}

interface ServiceSpec {
  name: string;
  color: number;
  healthPort: number;
  env: NodeJS.ProcessEnv;
}

interface Running {
  spec: ServiceSpec;
  child: ChildProcess | undefined;
  /** Exit times within the crash window. */
  crashes: number[];
  restarts: number;
  everReady: boolean;
  /** Lines of the current run that look like its error (stderr, error-level logs). */
  errorLines: string[];
  restartTimer: NodeJS.Timeout | undefined;
}

class Supervisor {
  private readonly running: Running[];
  private stopping = false;

  constructor(specs: ServiceSpec[]) {
    this.running = specs.map((spec) => ({ spec, child: undefined, crashes: [], restarts: 0, everReady: false, errorLines: [], restartTimer: undefined }));
  }

  start(): void {
    // A terminal's Ctrl-C reaches npm and this process at once, and npm passes its copy on: the
    // same keypress arrives twice within milliseconds. Only a signal a second later is a "second
    // Ctrl-C" that kills at once.
    let firstSignalAt = 0;
    const stop = () => {
      if (firstSignalAt && Date.now() - firstSignalAt < 1000) return;
      firstSignalAt ||= Date.now();
      void this.stopAll(0);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    process.on('SIGHUP', stop);
    // `npm start` may die without passing a signal on (SIGKILL, or a shell in between): when the
    // parent changes, this process was orphaned — stop everything rather than run unseen.
    const parent = process.ppid;
    setInterval(() => {
      if (process.ppid !== parent) {
        say('the process that started npm start is gone; stopping everything');
        void this.stopAll(0);
      }
    }, 500).unref();
    for (const r of this.running) this.spawn(r);
  }

  /** Resolves once every service answers ready in the same round (each reported the first time it does). */
  async allReady(): Promise<void> {
    const since = Date.now();
    let notice = since + WAITING_NOTICE_MS;
    for (;;) {
      // Stopping (a signal, a service that cannot start): the process exits; never say ready.
      if (this.stopping) await new Promise(() => undefined);
      // Every round asks every service: one that was ready and restarted meanwhile holds the banner.
      const waiting: string[] = [];
      await Promise.all(
        this.running.map(async (r) => {
          const answer = await probe(r.spec.healthPort);
          if (!answer.ready) return void waiting.push(`${r.spec.name} (${answer.reason})`);
          if (!r.everReady && r.child?.exitCode === null) {
            r.everReady = true;
            say(`${r.spec.name} ready (pid ${r.child.pid}, health http://127.0.0.1:${r.spec.healthPort}/readyz)`);
          }
        }),
      );
      if (waiting.length === 0) return;
      if (waiting.length > 0 && Date.now() > notice) {
        say(`still waiting after ${Math.round((Date.now() - since) / 1000)} s for ${waiting.join(', ')}`);
        notice = Date.now() + WAITING_NOTICE_MS;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  private spawn(r: Running): void {
    const { name, color, healthPort, env } = r.spec;
    r.errorLines = [];
    const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', join('services', name, 'src', 'main.ts')], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...env, HEALTH_PORT: String(healthPort), HEALTH_HOST: '127.0.0.1', SUPERVISOR_PID: String(process.pid) },
      // Its own process group: a terminal's Ctrl-C reaches only the supervisor, which stops
      // the services in order instead of all of them racing it.
      detached: true,
    });
    r.child = child;
    const prefix = paint(color, `[${name}]`.padEnd(22));
    const follow = (stream: NodeJS.ReadableStream | null, isStderr: boolean) => {
      let buf = '';
      stream?.on('data', (d: Buffer) => {
        buf += d.toString();
        const lines = buf.split('\n');
        buf = lines.pop() ?? '';
        for (const l of lines) {
          if (!l.trim()) continue;
          const { text, isError } = formatLine(l);
          if (isStderr || isError) remember(r.errorLines, text);
          console.log(`${prefix} ${text}`);
        }
      });
    };
    follow(child.stdout, false);
    follow(child.stderr, true);
    child.once('exit', (code, signal) => this.onExit(r, child, code, signal));
  }

  private onExit(r: Running, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.stopping || r.child !== child) return;
    const { name } = r.spec;
    const why = signal ?? `exit code ${code}`;
    const lastError = summarize(r.errorLines);
    const detail = lastError ? `: ${lastError}` : '';
    // Exit 2 is a service saying it cannot start as configured (startOrExit): retrying cannot help.
    if (code === 2 && !r.everReady) {
      console.error(`patchflow: ${name} cannot start (${why})${detail}; stopping everything`);
      void this.stopAll(1);
      return;
    }
    const now = Date.now();
    r.crashes = [...r.crashes.filter((t) => now - t < CRASH_WINDOW_MS), now];
    if (r.crashes.length >= CRASH_LIMIT) {
      console.error(`patchflow: ${name} exited ${r.crashes.length} times within ${CRASH_WINDOW_MS / 1000} s (last: ${why})${detail}; stopping everything`);
      void this.stopAll(1);
      return;
    }
    r.restarts += 1;
    const delay = Math.min(RESTART_BASE_MS * 2 ** (r.crashes.length - 1), RESTART_MAX_MS);
    say(`restarting ${name} after ${why} (${ordinal(r.restarts)} time) in ${delay / 1000} s${detail ? `; last error${detail}` : ''}`);
    r.restartTimer = setTimeout(() => {
      r.restartTimer = undefined;
      if (this.stopping) return;
      const wasReady = r.everReady;
      this.spawn(r);
      // Before the first ready, allReady() reports it; after, say when it is back.
      if (wasReady) void this.announceWhenReady(r, r.child);
    }, delay);
  }

  /** After a restart: one line when the new process is ready. */
  private async announceWhenReady(r: Running, child: ChildProcess | undefined): Promise<void> {
    while (!this.stopping && r.child === child && child?.exitCode === null) {
      if ((await probe(r.spec.healthPort)).ready) {
        if (r.child === child && !this.stopping) {
          r.everReady = true;
          say(`${r.spec.name} ready again (pid ${child.pid})`);
        }
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  /**
   * Stops every service, the reverse of the call graph: the gateway (stops taking requests),
   * then the workflows and the action-log (finish in-flight work; the successor may still ask
   * patch-status), then patch-status. A second call (second Ctrl-C) kills them at once.
   */
  async stopAll(code: number): Promise<void> {
    if (this.stopping) {
      for (const r of this.running) r.child?.kill('SIGKILL');
      process.exit(code || 1);
    }
    this.stopping = true;
    for (const r of this.running) clearTimeout(r.restartTimer);
    const tier = (name: string) => (name === 'gateway' ? 0 : name === 'patch-status' ? 2 : 1);
    for (const t of [0, 1, 2]) {
      await Promise.all(this.running.filter((r) => tier(r.spec.name) === t).map((r) => stopChild(r)));
    }
    process.exit(code);
  }
}

async function stopChild(r: Running): Promise<void> {
  const child = r.child;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const killed = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(killed);
  say(`stopped ${r.spec.name}`);
}

/** GET /readyz on a health port: ready, or the reason it is not (refused = still starting). */
function probe(port: number): Promise<{ ready: true } | { ready: false; reason: string }> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path: '/readyz', timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => {
        if (res.statusCode === 200) return resolve({ ready: true });
        let reason = `HTTP ${res.statusCode}`;
        try {
          reason = String((JSON.parse(body) as { reason?: unknown }).reason ?? reason);
        } catch {
          // not JSON: keep the status
        }
        resolve({ ready: false, reason });
      });
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 3 s')));
    req.on('error', (err: NodeJS.ErrnoException) =>
      resolve({ ready: false, reason: err.code === 'ECONNREFUSED' ? 'starting (health port not open yet)' : err.message }),
    );
  });
}

/** pino JSON lines shown as `12:00:01 INFO message key=value`; anything else as it is. */
function formatLine(line: string): { text: string; isError: boolean } {
  try {
    const { level, time, msg, service: _s, name: _n, pid: _p, hostname: _h, ...rest } = JSON.parse(line) as Record<string, unknown>;
    const lvl = ({ 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' } as Record<string, string>)[String(level)] ?? String(level);
    const extra = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
    const text = `${new Date(Number(time)).toISOString().slice(11, 19)} ${lvl.padEnd(5)} ${String(msg ?? '')} ${extra}`.trimEnd();
    return { text, isError: Number(level) >= 50 };
  } catch {
    return { text: line, isError: false };
  }
}

function remember(lines: string[], line: string): void {
  lines.push(line);
  if (lines.length > 20) lines.shift();
}

/**
 * The error of a run in one line: its stderr (a startup error spans a few lines: "invalid
 * environment:" then one per variable) without stack frames, at most 300 characters.
 */
function summarize(lines: string[]): string {
  const text = lines
    .map((l) => l.trim())
    .filter((l) => l && !/^at /.test(l) && !/^[{}[\]]+$/.test(l))
    .slice(-6)
    .join(' ');
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
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
