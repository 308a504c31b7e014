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

/** Zeroes the statement counters; resolves to the commit count so far (pg_stat_database is read as a difference). */
export function resetStatements(server: PrivatePostgres): Promise<number> {
  return withAdmin(server, async (c) => {
    await c.query('SELECT pg_stat_statements_reset()');
    return Number((await c.query<{ commits: string }>(COMMITS_SQL)).rows[0]?.commits ?? 0);
  });
}

/** Statements and commits since `resetStatements` (which answered `commitsBefore`). */
export function readStatements(server: PrivatePostgres, commitsBefore: number): Promise<StatementReport> {
  return withAdmin(server, async (c) => {
    const commits = Number((await c.query<{ commits: string }>(COMMITS_SQL)).rows[0]?.commits ?? 0) - commitsBefore;
    const r = await c.query<{ database: string; calls: string; exec_ms: number; plan_ms: number; rows: string; query: string }>(
      `SELECT d.datname AS database, s.calls::text, s.total_exec_time AS exec_ms, s.total_plan_time AS plan_ms, s.rows::text, s.query
         FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
        WHERE d.datname <> 'postgres'
        ORDER BY s.calls DESC, s.total_exec_time DESC`,
    );
    return {
      commits,
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
