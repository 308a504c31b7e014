/**
 * The process manager of `npm start`: runs each service as its own process with its output
 * prefixed, restarts one that exits (backoff 0.5 s doubling to 10 s, one line each time), ends the
 * run on a crash loop (5 exits within a minute) or on a service that cannot start as configured
 * (exit 2 before it was ever ready), knows when every service is ready (GET /readyz on its health
 * port), and stops them all on a signal or when its parent (npm) is gone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { get } from 'node:http';
import { join } from 'node:path';
import { SERVICE_NODE_FLAGS } from '@patchflow/config';

/** A crash loop: this many exits of one service within the window stop the run. */
const CRASH_LIMIT = 5;
const CRASH_WINDOW_MS = 60_000;
const RESTART_BASE_MS = 500;
const RESTART_MAX_MS = 10_000;
/** A service gets this long to stop after SIGTERM (workflows finish in-flight work) before SIGKILL. */
const STOP_GRACE_MS = 15_000;
/** While waiting for readiness, say who is still not ready this often. */
const WAITING_NOTICE_MS = 10_000;

const colors = [36, 35, 33, 32, 34, 91, 92, 93];
const paint = (i: number, s: string) => (process.stdout.isTTY ? `\x1b[${colors[i % colors.length]}m${s}\x1b[0m` : s);
const ordinal = (n: number) => `${n}${n % 100 >= 11 && n % 100 <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][n % 10] ?? 'th')}`;
export const say = (line: string) => console.log(`patchflow: ${line}`);

export interface ServiceSpec {
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

export class Supervisor {
  private readonly running: Running[];
  private stopping = false;

  constructor(specs: ServiceSpec[]) {
    this.running = specs.map((spec) => ({
      spec,
      child: undefined,
      crashes: [],
      restarts: 0,
      everReady: false,
      errorLines: [],
      restartTimer: undefined,
    }));
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
    const child = spawn(
      process.execPath,
      ['--conditions=development', '--import', 'tsx', ...SERVICE_NODE_FLAGS, join('services', name, 'src', 'main.ts')],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...env, HEALTH_PORT: String(healthPort), HEALTH_HOST: '127.0.0.1', SUPERVISOR_PID: String(process.pid) },
        // Its own process group: a terminal's Ctrl-C reaches only the supervisor, which stops
        // the services in order instead of all of them racing it.
        detached: true,
      },
    );
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
      console.error(
        `patchflow: ${name} exited ${r.crashes.length} times within ${CRASH_WINDOW_MS / 1000} s (last: ${why})${detail}; stopping everything`,
      );
      void this.stopAll(1);
      return;
    }
    r.restarts += 1;
    const delay = Math.min(RESTART_BASE_MS * 2 ** (r.crashes.length - 1), RESTART_MAX_MS);
    say(
      `restarting ${name} after ${why} (${ordinal(r.restarts)} time) in ${delay / 1000} s${detail ? `; last error${detail}` : ''}`,
    );
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
    const {
      level,
      time,
      msg,
      service: _s,
      name: _n,
      pid: _p,
      hostname: _h,
      ...rest
    } = JSON.parse(line) as Record<string, unknown>;
    const lvl =
      ({ 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' } as Record<string, string>)[String(level)] ??
      String(level);
    const extra = Object.entries(rest)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
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
