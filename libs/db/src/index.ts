import pg from 'pg';

/** Thrown when Postgres cannot be reached; its message is one line naming the URL and the fix. */
export class DatabaseUnreachableError extends Error {
  override name = 'DatabaseUnreachableError';
}

/** The URL with any password replaced, safe to print. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}

export function databaseName(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  if (!name) throw new Error(`DATABASE_URL ${redactUrl(url)} names no database`);
  return name;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

const START_HINT =
  'start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` or `docker compose up -d postgres`';

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new DatabaseUnreachableError(`Postgres is not reachable at ${redactUrl(url)} (${reason}); ${START_HINT}`, {
      cause: err,
    });
  }
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Creates the database named in `url` when it does not exist, connecting to the server's
 * `postgres` database (falling back to `template1`) to do so. Returns true if it created it.
 */
export async function ensureDatabase(url: string): Promise<boolean> {
  const name = databaseName(url);
  const adminUrls = [withDatabase(url, 'postgres'), withDatabase(url, 'template1')];
  let lastError: unknown;
  for (const adminUrl of adminUrls) {
    try {
      return await withClient(adminUrl, async (c) => {
        const found = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
        if (found.rowCount) return false;
        try {
          await c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
        } catch (err) {
          // Two starters racing: the other one created it.
          if ((err as { code?: string }).code === '42P04') return false;
          throw err;
        }
        return true;
      });
    } catch (err) {
      if (err instanceof DatabaseUnreachableError) throw err;
      lastError = err;
    }
  }
  throw lastError;
}

export async function dropDatabase(url: string): Promise<void> {
  const name = databaseName(url);
  await withClient(withDatabase(url, 'postgres'), (c) =>
    c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`),
  );
}

/** Resolves when a connection to `url` succeeds; throws DatabaseUnreachableError otherwise. */
export async function checkDatabase(url: string): Promise<void> {
  await withClient(url, (c) => c.query('SELECT 1'));
}

// SQLSTATE classes 08 (connection exception), 53 (insufficient resources), 57P0x (shutdown, crash).
const UNAVAILABLE_STATE = /^(08|53|57P0)/;
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
// What `pg` and the pools say without a code when the server goes away mid-way. knex's
// "Transaction query already complete" is what MikroORM's flush reports when the transaction's
// connection was ended under it (seen when Postgres restarts mid-flush): retried, it succeeds.
const UNAVAILABLE_MESSAGE =
  /Connection terminated|Connection ended unexpectedly|Timeout acquiring a connection|Client has encountered a connection error|not queryable|Transaction query already complete/i;

/**
 * True when the error says Postgres could not be reached or went away (restart, failover, a
 * terminated connection) — worth retrying later, and `unavailable` to a caller — rather than that
 * the statement or its data is wrong.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (e.name === 'ConnectionException' || e.name === 'KnexTimeoutError') return true;
    if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || UNAVAILABLE_STATE.test(code))) return true;
    if (UNAVAILABLE_MESSAGE.test(e.message)) return true;
    if (e instanceof AggregateError && e.errors.some((inner) => isDatabaseUnavailable(inner))) return true;
  }
  return false;
}

/**
 * Runs `fn` on a client checked out of `pool`. A checked-out client whose connection the server
 * ends (restart, failover, `pg_terminate_backend`) emits `'error'`, which with no listener is an
 * uncaught exception that kills the process; here it is caught, and a client that failed is
 * destroyed rather than handed to the next caller.
 */
export async function withPoolClient<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let lost: Error | undefined;
  const onError = (err: Error) => {
    lost = err;
  };
  client.on('error', onError);
  let failure: unknown;
  try {
    return await fn(client);
  } catch (err) {
    failure = err;
    throw err;
  } finally {
    client.off('error', onError);
    // `release(err)` closes the connection: after a failed query it may be mid-transaction or dead.
    client.release(lost ?? (failure !== undefined && isDatabaseUnavailable(failure) ? (failure as Error) : undefined));
  }
}
export { BatchItemError, Batcher } from './batcher.js';
