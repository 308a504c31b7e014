/** The private servers of a run, and the process groups that measure them. */
import pg from 'pg';
import type { PrivateNatsServer, PrivatePostgres } from '@patchflow/testing';
import { pidsMatching, processTree, type ProcessGroup } from './proc.js';

/** Every process of a private Postgres (postmaster and its children), minus `exclude`. */
export function postgresGroup(server: PrivatePostgres, exclude: () => number[] = () => []): ProcessGroup {
  const pattern = new RegExp(`bin/postgres .*-p ${server.port}\\b`);
  return {
    label: 'postgres (all processes)',
    memory: 'server',
    pids: () => {
      const [postmaster] = pidsMatching(pattern);
      if (postmaster === undefined) return [];
      const skip = new Set(exclude());
      return processTree(postmaster).filter((p) => !skip.has(p));
    },
  };
}

export function natsGroup(server: PrivateNatsServer): ProcessGroup {
  const pattern = new RegExp(`nats-server .*-p ${server.port}\\b`);
  return { label: 'nats-server', memory: 'peak', pids: () => pidsMatching(pattern) };
}

/** A single process by pid (a Postgres backend is measured like its server: `memory` 'server'). */
export function processGroup(
  label: string,
  pid: () => number | undefined,
  memory: ProcessGroup['memory'] = 'peak',
): ProcessGroup {
  return {
    label,
    memory,
    pids: () => {
      const p = pid();
      return p === undefined ? [] : [p];
    },
  };
}

/**
 * ANALYZE in every database of the server: what autovacuum does within a minute or two of a
 * table's first rows (it visits one database per naptime / databases). Without it, a run shorter
 * than that measures plans cached while the tables were empty: a generic plan made then joins a
 * batch to a sequential scan of the whole table, and keeps doing so until the table is analyzed
 * (FIELD-NOTES). Run for every row after the warm-up, so each measures its steady state.
 */
export async function analyzeDatabases(server: PrivatePostgres): Promise<string[]> {
  const admin = new pg.Client({ connectionString: server.url('postgres') });
  await admin.connect();
  let names: string[];
  try {
    const r = await admin.query<{ datname: string }>(
      "SELECT datname FROM pg_database WHERE datallowconn AND datname NOT IN ('postgres', 'template0', 'template1') ORDER BY datname",
    );
    names = r.rows.map((row) => row.datname);
  } finally {
    await admin.end();
  }
  for (const name of names) {
    const c = new pg.Client({ connectionString: server.url(name) });
    await c.connect();
    try {
      await c.query('ANALYZE');
    } finally {
      await c.end();
    }
  }
  return names;
}
