/**
 * The pg-boss row: the transition's SQL and one pg-boss job per routed workflow in the same
 * transaction (`send(…, { db })`), four worker processes polling their queues. Settled = every
 * job of the transition `completed` (its handler wrote the step rows before it returned); the
 * driver polls pgboss.job every 20 ms (pg-boss has no completion event).
 */
import PgBoss from 'pg-boss';
import { workflowNames, type ActionName, type WorkflowName } from '@patchflow/contracts';
import { transition } from './peer-schema.js';
import { PeerSystem, startPeerParts, type PeerParts } from './peer-system.js';
import { SettleTracker } from './settle.js';

export class PgBossSystem extends PeerSystem {
  readonly label = 'pg-boss pipeline';
  protected readonly tracker = new SettleTracker(
    async (keys) => {
      const ids = keys.flatMap((k) => this.jobsOf.get(k) ?? []);
      const r = await this.parts.check.query<{ id: string }>(
        "SELECT id::text FROM pgboss.job WHERE id = ANY($1::uuid[]) AND state = 'completed'",
        [ids],
      );
      const done = new Set(r.rows.map((row) => row.id));
      return keys.filter((k) => (this.jobsOf.get(k) ?? ['?']).every((id) => done.has(id)));
    },
    { intervalMs: 20, minGapMs: 20 },
  );

  private constructor(
    parts: PeerParts,
    private readonly boss: PgBoss,
  ) {
    super(parts);
  }

  static async start(): Promise<PgBossSystem> {
    const parts = await startPeerParts('bench_pgboss');
    const boss = new PgBoss({ connectionString: parts.databaseUrl, max: 4, schedule: false });
    boss.on('error', (err) => process.stderr.write(`pg-boss: ${String(err)}\n`));
    await boss.start();
    for (const w of workflowNames) await boss.createQueue(`bench-${w}`);
    const system = new PgBossSystem(parts, boss);
    await system.startWorkers({ PEER: 'pgboss', PGBOSS_LOOPS: '2', PGBOSS_BATCH: '16' });
    return system;
  }

  protected async commit(patchId: string, action: ActionName, workflows: readonly WorkflowName[]) {
    const jobIds: string[] = [];
    const t = await transition(this.parts.db, patchId, action, workflows, async (client, jobs) => {
      const db = { executeSql: (text: string, values: unknown[]) => client.query(text, values) };
      for (const job of jobs) {
        const id = await this.boss.send(`bench-${job.workflow}`, job, { db });
        if (!id) throw new Error('pg-boss refused the job');
        jobIds.push(id);
      }
    });
    return { transitionId: t.transitionId, createdAt: t.createdAt, jobIds };
  }

  protected async stopQueue(): Promise<void> {
    await this.boss.stop({ graceful: false, wait: true, timeout: 2000 }).catch(() => undefined);
  }
}
