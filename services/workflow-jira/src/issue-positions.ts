import pg from 'pg';

/** Postgres's SQLSTATE for a relation that does not exist. */
const UNDEFINED_TABLE = '42P01';

/** The newest transition of a patch that has put its Jira issue in a status. */
export interface IssuePosition {
  patchVersion: number;
  action: string;
  status: string;
}

export interface MoveRequest {
  jiraKey: string;
  patchId: string;
  /** The transition's `patchVersion`: transitions of one patch are ordered by it. */
  patchVersion: number;
  action: string;
}

export type GuardedMove =
  /** `move` ran; `status` is where the issue is now (moved there, or found there). */
  | { kind: 'done'; status: string }
  /** A newer transition of the same patch already put the issue in a status: `move` did not run. */
  | { kind: 'newer'; position: IssuePosition };

/**
 * Port: keeps a patch's Jira issue from moving backwards. `guard` runs `move` only when no newer
 * transition (higher `patchVersion`) of that patch has moved the issue yet, and records the
 * issue's position after it — atomically per (issue, patch): a second guard of the same issue
 * waits for the first, so an older move retried after a 503 can never land after a newer one.
 * A failure inside `move` records nothing.
 */
export interface IssuePositions {
  guard(req: MoveRequest, move: () => Promise<{ status: string }>): Promise<GuardedMove>;
  close(): Promise<void>;
}

/**
 * Postgres, in the workflow database: one row per (issue, patch) with the newest position, locked
 * (`FOR UPDATE` in one transaction) while the Jira calls run. The lock is held for at most the
 * three Jira calls (each bounded by HTTP_TIMEOUT_MS); a guard that cannot get it within
 * `lockTimeoutMs` fails and the runtime retries the work.
 *
 * The table, `jira_issue_position`, is only read by workflow-jira, but it is part of the workflow
 * database's migrations (libs/workflow-runtime/src/schema/jira-issue-position.ts and
 * migration-0003-jira-issue-position.ts), which the runtime applies at start before any work.
 */
export class PgIssuePositions implements IssuePositions {
  private readonly pool: pg.Pool;

  constructor(databaseUrl: string, lockTimeoutMs = 15_000) {
    // The lock wait bound is a setting of these connections (they serve nothing else), not a
    // statement per guard.
    this.pool = new pg.Pool({
      connectionString: databaseUrl,
      max: 4,
      connectionTimeoutMillis: 5000,
      options: `-c lock_timeout=${Math.round(lockTimeoutMs)}`,
    });
    this.pool.on('error', () => undefined); // idle client errors surface on the next query instead
  }

  async guard(req: MoveRequest, move: () => Promise<{ status: string }>): Promise<GuardedMove> {
    // Checked before a connection is taken: it goes into the SQL text below as a number.
    if (!Number.isSafeInteger(req.patchVersion)) throw new Error(`patchVersion is not an integer: ${req.patchVersion}`);
    const c = await this.pool.connect();
    // A checked-out client whose connection drops emits 'error': without a listener the process dies.
    let lost: Error | undefined;
    const onError = (err: Error) => {
      lost = err;
    };
    c.on('error', onError);
    // Two round trips, not four: BEGIN travels with the lock and COMMIT with the update, as
    // multi-statement (simple protocol) queries, which take no parameters — values are quoted by
    // the driver's escapeLiteral (the version is checked above). If a statement fails, the ones
    // after it do not run, and the catch rolls back.
    const key = `${c.escapeLiteral(req.jiraKey)}, ${c.escapeLiteral(req.patchId)}`;
    try {
      // The upsert makes the row if needed and locks it (its update takes the row lock, as FOR
      // UPDATE would), returning the position as it stands.
      const [, locked] = (await c.query(
        `BEGIN; INSERT INTO jira_issue_position (jira_key, patch_id, patch_version, action, status)
                VALUES (${key}, 0, '', '')
                ON CONFLICT (jira_key, patch_id) DO UPDATE SET jira_key = EXCLUDED.jira_key
                RETURNING patch_version, action, status`,
      )) as unknown as pg.QueryResult<{ patch_version: number; action: string; status: string }>[];
      const row = locked!.rows[0]!;
      if (row.patch_version > req.patchVersion) {
        await c.query('COMMIT');
        return { kind: 'newer', position: { patchVersion: row.patch_version, action: row.action, status: row.status } };
      }
      const { status } = await move();
      await c.query(
        `UPDATE jira_issue_position
            SET patch_version = ${req.patchVersion}, action = ${c.escapeLiteral(req.action)}, status = ${c.escapeLiteral(status)}, moved_at = now()
          WHERE (jira_key, patch_id) = (${key}); COMMIT`,
      );
      return { kind: 'done', status };
    } catch (err) {
      await c.query('ROLLBACK').catch((rollbackFailed: Error) => {
        lost ??= rollbackFailed;
      });
      if ((err as { code?: unknown }).code === UNDEFINED_TABLE) {
        const why = 'jira_issue_position does not exist: the workflow database is not migrated (the runtime does it at start)';
        throw new Error(why, { cause: err });
      }
      throw err;
    } finally {
      c.off('error', onError);
      // A connection that failed is closed rather than handed to the next guard.
      c.release(lost);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** One process, in memory: for unit tests of the handler. Same contract, serialized per key. */
export class InMemoryIssuePositions implements IssuePositions {
  readonly positions = new Map<string, IssuePosition>();
  private tails = new Map<string, Promise<unknown>>();

  async guard(req: MoveRequest, move: () => Promise<{ status: string }>): Promise<GuardedMove> {
    const id = `${req.jiraKey}\u0000${req.patchId}`;
    const run = (this.tails.get(id) ?? Promise.resolve())
      .catch(() => undefined)
      .then(async (): Promise<GuardedMove> => {
        const at = this.positions.get(id);
        if (at && at.patchVersion > req.patchVersion) return { kind: 'newer', position: at };
        const { status } = await move();
        this.positions.set(id, { patchVersion: req.patchVersion, action: req.action, status });
        return { kind: 'done', status };
      });
    this.tails.set(id, run);
    return run;
  }

  async close(): Promise<void> {}
}
