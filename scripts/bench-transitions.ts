/**
 * `npm run bench:transitions`: transitions/s and latency through the full path (NATS
 * request-reply → patch-status → Postgres → JetStream publish), at 1 and 16 concurrent callers,
 * against the same SQL transaction through plain `pg` in the same run as the ceiling.
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { Bus } from '@patchflow/bus';
import { patchEndpoints, type ActionName } from '@patchflow/contracts';
import { createLogger } from '@patchflow/log';
import { buildWork, TransitionStore } from '@patchflow/patch-status';
import { numberArg, numberListArg, percentile } from './bench-kit.js';
import { createTestDatabase, deleteNamespaceStreams, ServiceProcess, testNatsUrl, uniqueNamespace } from '@patchflow/testing';

const HELP = `Usage: npm run bench:transitions [-- --seconds N] [-- --rounds R] [-- --callers 1,16]

Prints a table of transitions/s and p50/p99 latency for the full NATS path and the plain-pg
ceiling. The two alternate in R rounds of N seconds each (so drift on a shared machine hits both
alike); the table shows the median round's rate and the latency percentiles over all rounds.
Uses a fresh database and bus namespace (DATABASE_URL's server, NATS_URL) and removes them
afterwards. Default: 3 rounds of 4 seconds, callers 1 and 16.`;

if (process.argv.includes('--help')) {
  console.log(HELP);
  process.exit(0);
}
const SECONDS = numberArg('--seconds', 4);
const ROUNDS = numberArg('--rounds', 3);
const CALLERS = numberListArg('--callers', [1, 16]);

const CEILING = 'plain pg, one transaction per transition (ceiling)';

/** After markActive + startDeployment, a patch alternates forever between these two. */
const CYCLE: ActionName[] = ['failDeployment', 'startDeployment'];

interface Row {
  path: string;
  callers: number;
  count: number;
  perSecond: number;
  p50: number;
  p99: number;
}

/** How many transitions each patch has had since it reached in_deployment (picks the next action). */
const steps = new Map<string, number>();

/** Runs `callers` loops for SECONDS, each driving its own patch; returns the rate and latencies. */
async function measureRound(
  callers: number,
  patchIds: string[],
  once: (patchId: string, action: ActionName) => Promise<void>,
): Promise<{ rate: number; latencies: number[] }> {
  const latencies: number[] = [];
  const deadline = performance.now() + SECONDS * 1000;
  const started = performance.now();
  await Promise.all(
    patchIds.slice(0, callers).map(async (patchId) => {
      while (performance.now() < deadline) {
        const i = steps.get(patchId) ?? 0;
        steps.set(patchId, i + 1);
        const t0 = performance.now();
        await once(patchId, CYCLE[i % 2]!);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return { rate: latencies.length / ((performance.now() - started) / 1000), latencies };
}

function summarize(path: string, callers: number, rounds: { rate: number; latencies: number[] }[]): Row {
  const all = rounds.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const rates = rounds.map((r) => r.rate).sort((a, b) => a - b);
  return {
    path,
    callers,
    count: all.length,
    perSecond: rates[rates.length >> 1]!,
    p50: percentile(all, 50),
    p99: percentile(all, 99),
  };
}

async function main(): Promise<void> {
  const db = await createTestDatabase('bench');
  const namespace = uniqueNamespace('bench');
  const service = ServiceProcess.start('services/patch-status/src/main.ts', {
    DATABASE_URL: db.url,
    NATS_URL: testNatsUrl(),
    BUS_NAMESPACE: namespace,
    LOG_LEVEL: 'warn',
    PATCH_STATUS_DB_POOL_SIZE: '16',
  });
  const bus = await Bus.connect({ url: testNatsUrl(), name: 'bench', namespace, logger: createLogger('bench', 'warn') });
  const pool = new pg.Pool({ connectionString: db.url, max: 16 });
  try {
    process.stderr.write('starting patch-status…\n');
    await waitForService(bus);
    const maxCallers = Math.max(...CALLERS);
    const ready = async (label: string) => {
      const ids: string[] = [];
      for (let i = 0; i < maxCallers; i++) {
        const { patch } = await bus.call(patchEndpoints.create, { name: `${label}.${i}`, product: 'bench', actor: 'bench' });
        for (const action of ['markActive', 'startDeployment'] as const) {
          await bus.call(patchEndpoints.transition, { patchId: patch.id, action, actor: { name: 'bench', role: 'admin' } });
        }
        ids.push(patch.id);
      }
      return ids;
    };

    const rows: Row[] = [];
    const store = new TransitionStore(pool);
    // Ceiling: the same two statements (read, then update + insert transition + insert work),
    // named prepared statements on plain pg, no NATS, no validation, no publish — one transaction
    // per transition, as the issue defines it. The batched row runs the statements patch-status
    // itself uses (concurrent transitions share one read and one write), to show what batching
    // alone gains.
    const viaPg = (batched: boolean) => async (patchId: string, action: ActionName) => {
      const loaded = batched ? await store.load(patchId, null) : await store.loadOne(patchId, null);
      if (!loaded) throw new Error('patch vanished');
      const { patch } = loaded;
      const to = action === 'failDeployment' ? 'deployment_failed' : 'in_deployment';
      const work = buildWork(patch, { patchId, action, reason: 'bench', actor: { name: 'bench', role: 'admin' } }, to);
      const commit = { work, fromVersion: patch.version, idempotencyKey: null };
      if (!(batched ? await store.commit(commit) : await store.commitOne(commit))) throw new Error('conflict');
    };
    const viaNats = async (patchId: string, action: ActionName) => {
      const r = await bus.request(patchEndpoints.transition, {
        patchId,
        action,
        reason: 'bench',
        actor: { name: 'bench', role: 'admin' },
      });
      if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
    };
    for (const callers of CALLERS) {
      const pgPatches = await ready(`pg${callers}`);
      const batchedPatches = await ready(`pgb${callers}`);
      const natsPatches = await ready(`nats${callers}`);
      const rounds: Record<string, { rate: number; latencies: number[] }[]> = { pg: [], batched: [], nats: [] };
      for (let round = 1; round <= ROUNDS; round++) {
        rounds.pg!.push(await measureRound(callers, pgPatches, viaPg(false)));
        rounds.batched!.push(await measureRound(callers, batchedPatches, viaPg(true)));
        rounds.nats!.push(await measureRound(callers, natsPatches, viaNats));
        const rate = (k: string) => rounds[k]!.at(-1)!.rate.toFixed(0);
        process.stderr.write(
          `  ${callers} caller(s), round ${round}/${ROUNDS}: plain pg ${rate('pg')}/s, batched ${rate('batched')}/s, full path ${rate('nats')}/s\n`,
        );
      }
      rows.push(
        summarize(CEILING, callers, rounds.pg!),
        summarize('plain pg, batched statements (what patch-status runs)', callers, rounds.batched!),
        summarize('NATS → patch-status → pg + JetStream (full path)', callers, rounds.nats!),
      );
    }
    const published = await pool.query<{ unpublished: number }>(
      'SELECT count(*) FILTER (WHERE published_at IS NULL)::int AS unpublished FROM patch_transition_work',
    );
    printTable(rows);
    console.log(
      `\nwork rows still unpublished at the end: ${published.rows[0]!.unpublished} (the publish-after-commit batches its bookkeeping)`,
    );
  } finally {
    await service.stop();
    await pool.end();
    await deleteNamespaceStreams(bus);
    await bus.close();
    await db.drop();
  }
}

async function waitForService(bus: Bus): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const r = await bus.request(patchEndpoints.list, { limit: 1 }, { timeoutMs: 500 });
    if (r.ok) return;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error('patch-status did not start');
}

function printTable(rows: Row[]): void {
  const lines = [
    '| path | callers | transitions | transitions/s (median round) | p50 ms | p99 ms | vs plain pg |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    const ceiling = rows.find((c) => c.callers === r.callers && c.path === CEILING);
    const ratio = ceiling ? `${((100 * r.perSecond) / ceiling.perSecond).toFixed(0)}%` : '';
    lines.push(
      `| ${r.path} | ${r.callers} | ${r.count} | ${r.perSecond.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${ratio} |`,
    );
  }
  console.log(`\n${lines.join('\n')}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
