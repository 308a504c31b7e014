/**
 * What the two peer rows share: a private Postgres with the peer tables, the stand-ins, four
 * worker processes (one per workflow, as Patchflow has), the warm-up, the pickups and the
 * process groups. Subclasses decide how jobs are enqueued and how settlement is seen.
 */
import pg from 'pg';
import { workflowNames, workflowsFor, type ActionName, type WorkflowName } from '@patchflow/contracts';
import { ensureDatabase } from '@patchflow/db';
import { PrivatePostgres, ServiceProcess } from '@patchflow/testing';
import { createPatch, PEER_SCHEMA } from './peer-schema.js';
import type { ProcessGroup } from './proc.js';
import { postgresSettings } from './pg-statements.js';
import { postgresGroup, processGroup } from './servers.js';
import type { SettleTracker, Committed, Settled } from './settle.js';
import { StandIns } from './stand-ins.js';
import type { BenchSystem } from './system.js';

export interface PeerParts {
  postgres: PrivatePostgres;
  databaseUrl: string;
  db: pg.Pool;
  /** The driver's own connection for settle checks (its backend is reported apart). */
  check: pg.Client;
  checkPid: number;
  standIns: StandIns;
}

export async function startPeerParts(database: string): Promise<PeerParts> {
  const [postgres, standIns] = await Promise.all([PrivatePostgres.create(postgresSettings), StandIns.start()]);
  const databaseUrl = postgres.url(database);
  await ensureDatabase(databaseUrl);
  const db = new pg.Pool({ connectionString: databaseUrl, max: 16 });
  db.on('error', () => undefined);
  await db.query(PEER_SCHEMA);
  const check = new pg.Client({ connectionString: databaseUrl });
  await check.connect();
  const checkPid = (await check.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  return { postgres, databaseUrl, db, check, checkPid, standIns };
}

export abstract class PeerSystem implements BenchSystem {
  abstract readonly label: string;
  protected workers = new Map<WorkflowName, ServiceProcess>();
  protected abstract readonly tracker: SettleTracker;
  private seq = 0;
  /** transition id → its job ids: settled when every one has completed. */
  protected readonly jobsOf = new Map<string, string[]>();

  constructor(protected readonly parts: PeerParts) {}

  /** Starts one worker process per workflow with `env`, waiting until each consumes. */
  protected async startWorkers(env: Record<string, string>): Promise<void> {
    for (const w of workflowNames) {
      this.workers.set(
        w,
        ServiceProcess.start('scripts/bench/peer-worker.ts', {
          ...this.parts.standIns.env,
          ...env,
          WORKFLOW: w,
          DATABASE_URL: this.parts.databaseUrl,
        }),
      );
    }
    await Promise.all([...this.workers.values()].map((p) => p.waitForLog(/peer worker ready/, 60_000)));
  }

  /** The transition and its jobs; resolves once committed (and, for a dual write, enqueued). */
  protected abstract commit(
    patchId: string,
    action: ActionName,
    workflows: readonly WorkflowName[],
  ): Promise<{ transitionId: string; createdAt: Date; jobIds: string[] }>;

  /** Extra process groups of the peer (Redis). */
  protected extraProcesses(): ProcessGroup[] {
    return [];
  }

  postgresServer(): PrivatePostgres {
    return this.parts.postgres;
  }

  processes(): ProcessGroup[] {
    return [
      ...workflowNames.map((w) => processGroup(`${w} worker`, () => this.workers.get(w)?.pid)),
      ...this.extraProcesses(),
      postgresGroup(this.parts.postgres, () => [this.parts.checkPid]),
      processGroup('load driver (transition SQL, producer) + HTTP stand-ins', () => process.pid),
      {
        ...processGroup("driver's settle checks (its postgres backend; not in the total)", () => this.parts.checkPid, 'server'),
        harness: true,
      },
    ];
  }

  async prepare(n: number): Promise<string[]> {
    const ids: string[] = [];
    let made = 0;
    // As for Patchflow: 32 callers, each waiting for its markActive to settle.
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (made < n) {
          made++;
          const id = await createPatch(this.parts.db, `2026.${++this.seq}.1`, this.parts.standIns.newIssue());
          ids.push(id);
          await this.settled(await this.run(id, 'markActive'));
        }
      }),
    );
    this.parts.standIns.forgetCalls();
    return ids;
  }

  startDeployment(patchId: string): Promise<Committed> {
    return this.run(patchId, 'startDeployment');
  }

  settled(c: Committed): Promise<Settled> {
    return this.tracker.track(c);
  }

  async pickups(keys: Committed[]): Promise<number[]> {
    const r = await this.parts.check.query<{ key: string; started: number }>(
      `SELECT transition_id::text AS key, (extract(epoch FROM min(started_at)) * 1000)::float8 AS started
         FROM bench_step WHERE transition_id = ANY($1::uuid[]) GROUP BY transition_id`,
      [keys.map((k) => k.key)],
    );
    const started = new Map(r.rows.map((row) => [row.key, row.started]));
    return keys.map((k) => (started.get(k.key) ?? NaN) - k.committedAt);
  }

  async stop(): Promise<void> {
    await this.tracker.stop();
    await Promise.all([...this.workers.values()].map((p) => p.stop('SIGTERM')));
    await this.stopQueue();
    await this.parts.check.end().catch(() => undefined);
    await this.parts.db.end().catch(() => undefined);
    await this.parts.postgres.destroy();
    await this.parts.standIns.close();
  }

  protected abstract stopQueue(): Promise<void>;

  private async run(patchId: string, action: ActionName): Promise<Committed> {
    const { transitionId, createdAt, jobIds } = await this.commit(patchId, action, workflowsFor(action));
    this.jobsOf.set(transitionId, jobIds);
    return { key: transitionId, committedAt: createdAt.getTime() };
  }
}
