/**
 * `bench:e2e --statements`: what each system asks of Postgres per settled transition, from
 * pg_stat_statements (preloaded in the private servers) and pg_stat_database, reset before the
 * closed loop and read after it. Where a row's Postgres CPU goes, statement by statement.
 */
import pg from 'pg';
import type { PrivatePostgres } from '@patchflow/testing';

/** Server settings every private Postgres of the run starts with (set before the systems start). */
export const postgresSettings: Record<string, string> = {};

export function collectStatements(): void {
  postgresSettings.shared_preload_libraries = 'pg_stat_statements';
  postgresSettings['pg_stat_statements.track'] = 'all';
  // Planning time too: a statement sent with its values inlined (the simple protocol) is planned
  // on every call, and that is not in its execution time.
  postgresSettings['pg_stat_statements.track_planning'] = 'on';
}

export interface StatementRow {
  database: string;
  calls: number;
  execMs: number;
  planMs: number;
  rows: number;
  query: string;
}

export interface StatementReport {
  commits: number;
  statements: StatementRow[];
  /** Sequential scans per `database.table` (pg_stat_user_tables). */
  seqScans: Map<string, number>;
}

/** What `readStatements` subtracts: the counters that cannot be reset per run. */
export interface StatementBaseline {
  commits: number;
  seqScans: Map<string, number>;
}

/** Runs `work` on the server's `postgres` database (where the extension's views are read). */
async function withAdmin<T>(server: PrivatePostgres, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: server.url('postgres') });
  await c.connect();
  try {
    await c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    return await work(c);
  } finally {
    await c.end();
  }
}

const COMMITS_SQL = `SELECT coalesce(sum(xact_commit), 0)::text AS commits FROM pg_stat_database
                      WHERE datname NOT IN ('postgres', 'template0', 'template1')`;

/**
 * Sequential scans so far of every user table of every database of the server, as
 * `database.table`. Backends report their counts at most once a second (and when idle), so a
 * difference over a run of a few seconds is close, not exact.
 */
async function seqScans(server: PrivatePostgres, admin: pg.Client): Promise<Map<string, number>> {
  const databases = await admin.query<{ datname: string }>(
    `SELECT datname FROM pg_database WHERE datname NOT IN ('postgres', 'template0', 'template1') AND datallowconn`,
  );
  const out = new Map<string, number>();
  for (const { datname } of databases.rows) {
    const c = new pg.Client({ connectionString: server.url(datname) });
    await c.connect();
    try {
      const r = await c.query<{ relname: string; seq_scan: string }>('SELECT relname, seq_scan::text FROM pg_stat_user_tables');
      for (const row of r.rows) out.set(`${datname}.${row.relname}`, Number(row.seq_scan));
    } finally {
      await c.end();
    }
  }
  return out;
}

/** Zeroes the statement counters; resolves to the counters read as differences (commits, scans). */
export function resetStatements(server: PrivatePostgres): Promise<StatementBaseline> {
  return withAdmin(server, async (c) => {
    await c.query('SELECT pg_stat_statements_reset()');
    const commits = Number((await c.query<{ commits: string }>(COMMITS_SQL)).rows[0]?.commits ?? 0);
    return { commits, seqScans: await seqScans(server, c) };
  });
}

/** Statements, commits and sequential scans since `resetStatements` (which answered `before`). */
export function readStatements(server: PrivatePostgres, before: StatementBaseline): Promise<StatementReport> {
  return withAdmin(server, async (c) => {
    const commits = Number((await c.query<{ commits: string }>(COMMITS_SQL)).rows[0]?.commits ?? 0) - before.commits;
    const r = await c.query<{ database: string; calls: string; exec_ms: number; plan_ms: number; rows: string; query: string }>(
      `SELECT d.datname AS database, s.calls::text, s.total_exec_time AS exec_ms, s.total_plan_time AS plan_ms, s.rows::text, s.query
         FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
        WHERE d.datname <> 'postgres'
        ORDER BY s.calls DESC, s.total_exec_time DESC`,
    );
    const scans = new Map<string, number>();
    for (const [table, n] of await seqScans(server, c)) {
      const run = n - (before.seqScans.get(table) ?? 0);
      if (run > 0) scans.set(table, run);
    }
    return {
      commits,
      seqScans: scans,
      statements: r.rows.map((row) => ({
        database: row.database,
        calls: Number(row.calls),
        execMs: row.exec_ms,
        planMs: row.plan_ms,
        rows: Number(row.rows),
        query: row.query.replace(/\s+/g, ' ').trim(),
      })),
    };
  });
}
