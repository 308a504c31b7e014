/**
 * The BullMQ row: the transition's SQL commits, then one BullMQ job per routed workflow is added
 * (a dual write: a crash in between loses the jobs), four worker processes on Redis. Settled =
 * every job of the transition completed (its handler wrote the step rows first), seen through
 * QueueEvents.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Queue, QueueEvents } from 'bullmq';
import { workflowNames, type ActionName, type WorkflowName } from '@patchflow/contracts';
import { uniqueSuffix } from '@patchflow/testing';
import { transition } from './peer-schema.js';
import { PeerSystem, startPeerParts, type PeerParts } from './peer-system.js';
import type { ProcessGroup } from './proc.js';
import { processGroup } from './servers.js';
import { SettleTracker } from './settle.js';

const run = promisify(execFile);

/** Starts redis-server the way .ci/run starts the servers it needs, when nothing answers. */
async function ensureRedis(host: string, port: number): Promise<void> {
  const ping = () =>
    run('redis-cli', ['-h', host, '-p', String(port), 'ping']).then(
      (r) => r.stdout.trim() === 'PONG',
      () => false,
    );
  if (await ping()) return;
  await run('redis-server', ['--daemonize', 'yes', '--bind', host, '--port', String(port), '--save', '', '--appendonly', 'no']);
  for (let i = 0; i < 50 && !(await ping()); i++) await new Promise((r) => setTimeout(r, 100));
  if (!(await ping())) throw new Error(`redis-server did not start on ${host}:${port}`);
}

export class BullmqSystem extends PeerSystem {
  readonly label = 'BullMQ pipeline';
  private readonly completed = new Set<string>();
  private readonly keyOfJob = new Map<string, string>();
  protected readonly tracker = new SettleTracker(
    async (keys) => keys.filter((k) => (this.jobsOf.get(k) ?? ['?']).every((id) => this.completed.has(id))),
    {
      intervalMs: 250,
      minGapMs: 2,
    },
  );

  private constructor(
    parts: PeerParts,
    private readonly queues: Map<WorkflowName, Queue>,
    private readonly events: QueueEvents[],
    private readonly redisPid: number | undefined,
  ) {
    super(parts);
    for (const e of events) {
      e.on('completed', ({ jobId }) => {
        this.completed.add(jobId);
        const key = this.keyOfJob.get(jobId);
        if (key) this.tracker.poke(key);
      });
    }
  }

  static async start(redisUrl: string): Promise<BullmqSystem> {
    const url = new URL(redisUrl);
    const host = url.hostname;
    const port = Number(url.port || 6379);
    await ensureRedis(host, port);
    const connection = { host, port, maxRetriesPerRequest: null };
    const prefix = `bench_${uniqueSuffix()}`;
    const parts = await startPeerParts('bench_bullmq');
    const queues = new Map(workflowNames.map((w) => [w, new Queue(`bench-${w}`, { connection, prefix })]));
    const events = workflowNames.map((w) => new QueueEvents(`bench-${w}`, { connection, prefix }));
    await Promise.all([...queues.values(), ...events].map((q) => q.waitUntilReady()));
    const { stdout: info } = await run('redis-cli', ['-h', host, '-p', String(port), 'info', 'server']);
    const pid = /process_id:(\d+)/.exec(info)?.[1];
    const system = new BullmqSystem(parts, queues, events, pid ? Number(pid) : undefined);
    await system.startWorkers({ PEER: 'bullmq', REDIS_URL: redisUrl, BULLMQ_PREFIX: prefix, BULLMQ_CONCURRENCY: '16' });
    return system;
  }

  protected override extraProcesses(): ProcessGroup[] {
    return [processGroup('redis-server', () => this.redisPid)];
  }

  protected async commit(patchId: string, action: ActionName, workflows: readonly WorkflowName[]) {
    const t = await transition(this.parts.db, patchId, action, workflows);
    const jobIds = t.jobs.map((j) => `${j.workflow}-${t.transitionId}`);
    for (const id of jobIds) this.keyOfJob.set(id, t.transitionId);
    // After the commit: the dual write the issue describes.
    await Promise.all(
      t.jobs.map((job, i) =>
        this.queues.get(job.workflow)!.add('work', job, {
          jobId: jobIds[i]!,
          attempts: 3,
          backoff: { type: 'exponential', delay: 100 },
          removeOnComplete: 1000,
          removeOnFail: 5000,
        }),
      ),
    );
    return { transitionId: t.transitionId, createdAt: t.createdAt, jobIds };
  }

  protected async stopQueue(): Promise<void> {
    await Promise.all(this.events.map((e) => e.close().catch(() => undefined)));
    for (const q of this.queues.values()) {
      await q.obliterate({ force: true }).catch(() => undefined);
      await q.close().catch(() => undefined);
    }
  }
}
