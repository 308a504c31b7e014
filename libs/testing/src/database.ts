import pg from 'pg';
import { dropDatabase, ensureDatabase } from '@patchflow/db';
import { testDatabaseServerUrl, uniqueSuffix } from './env.js';

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A fresh, empty database of its own for one test file; `drop()` removes it. */
export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const u = new URL(testDatabaseServerUrl());
  u.pathname = `/pf_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${uniqueSuffix()}`;
  const url = u.toString();
  await ensureDatabase(url);
  return { url, drop: () => dropDatabase(url) };
}

/** A small pg pool for assertions; errors of idle clients (database dropped) are ignored. */
export function testPool(url: string, max = 2): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max });
  pool.on('error', () => undefined);
  return pool;
}
