import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SERVICE_NODE_FLAGS } from '@patchflow/config';

/** The repository root (this file is libs/testing/src/processes.ts). */
export const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');

export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => ok(port));
    });
  });
}

/** Polls `check` until it returns something truthy (0, '', false, null and undefined mean "not yet"). */
export async function waitFor<T>(
  check: () => Promise<T | undefined | null | false | 0> | T | undefined | null | false | 0,
  { timeoutMs = 10_000, intervalMs = 50, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as T;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastError });
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A private nats-server with JetStream on a free port, for tests that stop and restart it. */
export class PrivateNatsServer {
  private child: ChildProcess | undefined;
  readonly storeDir = mkdtempSync(join(tmpdir(), 'pf-nats-'));

  private constructor(
    readonly port: number,
    /** A server config file (e.g. from `npm run nats:config`); it must listen on `port`. */
    private readonly configFile?: string,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  static async start(options: { port?: number; configFile?: string } = {}): Promise<PrivateNatsServer> {
    const server = new PrivateNatsServer(options.port ?? (await freePort()), options.configFile);
    await server.restart();
    return server;
  }

  /** Starts (again) on the same port and store: JetStream data survives a stop. */
  async restart(): Promise<void> {
    const bin = process.env.NATS_SERVER_BIN ?? 'nats-server';
    const args = this.configFile
      ? ['-c', this.configFile]
      : ['-a', '127.0.0.1', '-p', String(this.port), '-js', '-sd', this.storeDir];
    // Its log goes to a file in its store dir, shown when it does not come up.
    const logFile = join(this.storeDir, 'nats-server.log');
    const log = openSync(logFile, 'a');
    const child = spawn(bin, args, { stdio: ['ignore', log, log] });
    closeSync(log);
    this.child = child;
    // A cluster node restarted after a crash may take a while to recover its JetStream store.
    await waitFor(() => child.exitCode === null && canConnect(this.port), {
      timeoutMs: 30_000,
      what: `nats-server on ${this.port}`,
    }).catch((err: unknown) => {
      const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n') : '';
      throw new Error(`${String(err)} (exit ${String(child.exitCode ?? child.signalCode)}); its log:\n${tail}`);
    });
  }

  /** Stops the server: SIGTERM shuts down cleanly, SIGKILL is a crash (`restart()` brings it back). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await exited;
    this.child = undefined;
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.storeDir, { recursive: true, force: true });
  }
}

async function canConnect(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((ok) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      ok(true);
    });
    s.once('error', () => ok(false));
  });
}

/** A service started as its own process from its TypeScript source (SIGKILL-able). */
export class ServiceProcess {
  private output = '';
  readonly exited: Promise<number | null>;

  private constructor(private readonly child: ChildProcess) {
    child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((r) => child.once('exit', (code) => r(code)));
  }

  /**
   * `entry` is relative to the repository root, e.g. `services/patch-status/src/main.ts`.
   * `imports`: modules loaded before it with `node --import` (absolute paths), e.g. a fault
   * injector from `faultInjectors`. `nodeArgs`: more node flags (e.g. `--cpu-prof`). `fromDist`:
   * run the built `dist/main.js` next to `entry`'s `src/` with plain node, as production does
   * (`npm run build` first). `root`: another checkout to run the service from (a benchmark's
   * baseline; its `dist/` built), with `serviceFlags` (default: this checkout's SERVICE_NODE_FLAGS).
   */
  static start(
    entry: string,
    env: Record<string, string>,
    options: {
      imports?: string[];
      nodeArgs?: string[];
      fromDist?: boolean;
      root?: string;
      serviceFlags?: readonly string[];
    } = {},
  ): ServiceProcess {
    const imports = (options.imports ?? []).flatMap((path) => ['--import', pathToFileURL(path).href]);
    const flags = options.serviceFlags ?? SERVICE_NODE_FLAGS;
    const args = options.fromDist
      ? [...flags, ...(options.nodeArgs ?? []), ...imports, entry.replace(/\/src\/(.*)\.ts$/, '/dist/$1.js')]
      : ['--conditions=development', '--import', 'tsx', ...flags, ...(options.nodeArgs ?? []), ...imports, entry];
    const child = spawn(process.execPath, args, {
      cwd: options.root ?? repoRoot,
      env: { ...process.env, LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new ServiceProcess(child);
  }

  get logs(): string {
    return this.output;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** null while running; the exit code (or the signal's name) once it has exited. */
  get exitCode(): number | string | null {
    return this.child.exitCode ?? this.child.signalCode;
  }

  // Generous by default: a cold tsx start on a loaded 2-core machine can take tens of seconds.
  // A process that exits fails the wait at once, with what it said (not a timeout quoting the
  // output it had when the wait began).
  async waitForLog(pattern: RegExp, timeoutMs = 90_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.output)) {
      if (this.exitCode !== null) {
        // Its last output may arrive just after the exit.
        await new Promise((r) => setTimeout(r, 100));
        if (pattern.test(this.output)) return;
        throw new Error(`exited (${String(this.exitCode)}) before logging ${pattern}; its output: ${this.output.slice(-2000)}`);
      }
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for log ${pattern} (got: ${this.output.slice(-2000)})`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.child.exitCode === null) this.child.kill(signal);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    this.kill(signal);
    return this.exited;
  }
}
