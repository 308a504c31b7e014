/**
 * One peer workflow worker process (`PEER`=pgboss|bullmq, `WORKFLOW`=successor|gitlab|jira|slack):
 * takes that workflow's jobs and runs its effect against the stand-ins, a step row per step.
 * Started by the benchmark; stops on SIGTERM.
 */
import pg from 'pg';
import { effectConfigFromEnv, PeerEffects } from './peer-effects.js';
import type { PeerJob } from './peer-schema.js';

const env = process.env;
const peer = env.PEER;
const workflow = env.WORKFLOW ?? '';
const queue = `bench-${workflow}`;
const db = new pg.Pool({ connectionString: env.DATABASE_URL, max: Number(env.PEER_POOL_SIZE ?? 16) });
db.on('error', () => undefined);
const effects = new PeerEffects(db, effectConfigFromEnv(env));
const stops: Array<() => Promise<unknown>> = [];

if (peer === 'pgboss') {
  const { default: PgBoss } = await import('pg-boss');
  const boss = new PgBoss({ connectionString: env.DATABASE_URL, max: 4, supervise: false, schedule: false, migrate: false });
  boss.on('error', (err) => console.error('pg-boss error', err));
  await boss.start();
  // work() fetches up to batchSize jobs, runs the handler, then sleeps its polling interval
  // (≥ 0.5 s) even after a full fetch: several loops per queue keep jobs flowing meanwhile.
  const loops = Number(env.PGBOSS_LOOPS ?? 2);
  const batchSize = Number(env.PGBOSS_BATCH ?? 16);
  for (let i = 0; i < loops; i++) {
    await boss.work<PeerJob>(queue, { batchSize, pollingIntervalSeconds: 0.5 }, async (jobs) => {
      await Promise.all(jobs.map((j) => effects.run(j.data)));
    });
  }
  stops.push(() => boss.stop({ graceful: true, wait: true, timeout: 5000 }));
} else if (peer === 'bullmq') {
  const { Worker } = await import('bullmq');
  const url = new URL(env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const worker = new Worker<PeerJob>(queue, async (job) => effects.run(job.data), {
    connection: { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null },
    prefix: env.BULLMQ_PREFIX ?? 'bull',
    concurrency: Number(env.BULLMQ_CONCURRENCY ?? 16),
  });
  worker.on('error', (err) => console.error('bullmq error', err));
  await worker.waitUntilReady();
  stops.push(() => worker.close());
} else {
  console.error(`PEER must be pgboss or bullmq (got "${String(peer)}")`);
  process.exit(2);
}
console.log(`peer worker ready: ${String(peer)} ${workflow}`);

const stop = async () => {
  for (const s of stops) await s().catch(() => undefined);
  await db.end().catch(() => undefined);
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
