import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './processes.js';

const run = promisify(execFile);

/** The Postgres binaries of this machine (Debian layout), or undefined when there are none. */
function binDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const version = readdirSync(root).sort().at(-1);
  const dir = version ? join(root, version, 'bin') : undefined;
  return dir && existsSync(join(dir, 'initdb')) ? dir : undefined;
}

/**
 * A Postgres of this test's own, to stop, restart or cut off without touching the shared server
 * (recipe in docs/FIELD-NOTES.md: Postgres refuses to run as root, so it runs as `postgres`). Ready in
 * ~2 s; `available` is false where that cannot work (not root, no binaries): skip the test then.
 */
export class PrivatePostgres {
  static readonly available = process.getuid?.() === 0 && binDir() !== undefined;

  private constructor(
    private readonly dir: string,
    private readonly bin: string,
    readonly port: number,
    private readonly settings: Record<string, string> = {},
  ) {}

  /** The server's command-line options: its port, socket directory, and the extra settings. */
  private get serverOptions(): string {
    const extra = Object.entries(this.settings).map(([k, v]) => ` -c ${k}=${v}`);
    return `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1${extra.join('')}`;
  }

  /** `settings`: server settings (`-c name=value`) for every start, e.g. a preloaded extension. */
  static async create(settings: Record<string, string> = {}): Promise<PrivatePostgres> {
    const bin = binDir();
    if (!bin) throw new Error('no Postgres binaries under /usr/lib/postgresql');
    const dir = await mkdtemp(join(tmpdir(), 'pf-pg-'));
    await run('chown', ['postgres', dir]);
    await run('runuser', ['-u', 'postgres', '--', join(bin, 'initdb'), '-D', join(dir, 'data'), '-A', 'trust', '-U', 'postgres']);
    const server = new PrivatePostgres(dir, bin, await freePort(), settings);
    await server.start();
    return server;
  }

  url(database: string): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  async start(): Promise<void> {
    await this.ctl(['-o', this.serverOptions, '-l', join(this.dir, 'log'), '-w', 'start']);
  }

  async stop(): Promise<void> {
    await this.ctl(['-m', 'fast', '-w', 'stop']);
  }

  /** What a restart or failover does to clients: every connection closed, the server back ~1 s later. */
  async restart(): Promise<void> {
    // `-l` too: without it the server would inherit (and hold open) this call's output pipes.
    await this.ctl(['-m', 'fast', '-o', this.serverOptions, '-l', join(this.dir, 'log'), '-w', 'restart']);
  }

  /**
   * Ends every client connection (`pg_terminate_backend`) without restarting anything, to all
   * databases or the ones named. Returns how many were terminated.
   */
  async terminateConnections(databases?: string[]): Promise<number> {
    const client = new pg.Client({ connectionString: this.url('postgres') });
    await client.connect();
    try {
      const r = await client.query<{ pid: number }>(
        `SELECT pg_terminate_backend(pid) AS pid FROM pg_stat_activity
          WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'
            AND ($1::text[] IS NULL OR datname = ANY($1::text[]))`,
        [databases ?? null],
      );
      return r.rowCount ?? 0;
    } finally {
      await client.end();
    }
  }

  async destroy(): Promise<void> {
    await this.stop().catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
  }

  private async ctl(args: string[]): Promise<void> {
    await run('runuser', ['-u', 'postgres', '--', join(this.bin, 'pg_ctl'), '-D', join(this.dir, 'data'), ...args]);
  }
}
