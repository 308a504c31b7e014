import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { repoRoot, waitFor } from '@patchflow/testing';

export { freePortRange } from '@patchflow/testing';

/** Fixtures for tests of `npm start` (test/start-command.test.ts, test/supervisor.test.ts). */

/** Runs the start command's entry (what `npm start` execs) to completion. */
export function runStart(args: string[], env: Record<string, string>, timeoutMs = 60_000) {
  const started = Date.now();
  const r = spawnSync(process.execPath, ['--conditions=development', 'scripts/start.mjs', ...args], {
    cwd: repoRoot,
    env: { ...process.env, PATCHFLOW_NO_INSTALL: '1', ...env },
    encoding: 'utf8',
    timeout: timeoutMs,
  });
  return { code: r.status, out: r.stdout, err: r.stderr.trim(), ms: Date.now() - started };
}

/** A pid that still runs (a zombie, dead but not reaped, counts as gone). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX]/.test(stat);
  } catch {
    return false;
  }
}

function childrenOf(pid: number): number[] {
  const file = `/proc/${pid}/task/${pid}/children`;
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** The real `npm start` as a user runs it, with its output kept. */
export class NpmStart {
  output = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;

  /** `ownGroup`: npm leads a process group of its own, as in a terminal (see `signalGroup`). */
  constructor(args: string[], env: Record<string, string>, { ownGroup = false } = {}) {
    this.child = spawn('npm', ['start', '--', ...args], {
      cwd: repoRoot,
      env: { ...process.env, PATCHFLOW_NO_INSTALL: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: ownGroup,
    });
    this.child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    this.child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  /** The npm process itself. */
  get pid(): number {
    return this.child.pid!;
  }

  /** The supervisor: npm's child (npm execs node, no shell in between). */
  get runnerPid(): number | undefined {
    return childrenOf(this.pid).find((p) => commandLine(p).includes('scripts/start.mjs'));
  }

  /** Each running service's pid, by name. */
  servicePids(): Record<string, number> {
    const runner = this.runnerPid;
    if (runner === undefined) return {};
    const pids: Record<string, number> = {};
    for (const p of childrenOf(runner)) {
      const m = /services\/([a-z-]+)\/src\/main\.ts/.exec(commandLine(p));
      if (m?.[1] && alive(p)) pids[m[1]] = p;
    }
    return pids;
  }

  /**
   * Waits for `pattern` in the output; fails at once, with what it printed, if npm start exits
   * first, and otherwise after `timeoutMs` (kept below the test's own timeout, so the failure
   * quotes the output instead of vitest's bare "Test timed out").
   */
  async waitForOutput(pattern: RegExp, timeoutMs = 90_000): Promise<void> {
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    void this.exited.then((e) => (exit = e));
    const found = () => pattern.test(this.output);
    try {
      await waitFor(() => found() || exit !== undefined, { timeoutMs, intervalMs: 100 });
    } catch {
      throw new Error(`no ${pattern} in npm start's output after ${timeoutMs} ms; it printed:\n${this.output.slice(-3000)}`);
    }
    if (!found())
      throw new Error(
        `npm start exited (${exit?.signal ?? `code ${exit?.code}`}) before printing ${pattern}; it printed:\n${this.output.slice(-3000)}`,
      );
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** What a terminal's Ctrl-C does: the signal to every process of npm's group (needs `ownGroup`). */
  signalGroup(signal: NodeJS.Signals): void {
    process.kill(-this.pid, signal);
  }

  /** Stops it if a test left it running (and everything it started). */
  async dispose(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    await Promise.race([this.exited, new Promise((r) => setTimeout(r, 30_000))]);
  }
}
