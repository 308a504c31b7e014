/**
 * Micro-benchmark of the action-log projection alone (no workflows, no gateway):
 *   node --conditions=development --import tsx services/action-log/bench/bench-action-log.ts [--items N] [--rounds R]
 *
 * Per round, in a database and bus namespace of its own:
 *  1. live: the service runs as its own process (services/action-log/src/main.ts); N work items
 *     (startDeployment: four workflows) and their events — per workflow `running`, two steps,
 *     `succeeded`: 17 messages per item — are published 64 in flight; measured from the first
 *     publish until both durable consumers are idle: messages/s, the service's CPU ms per message
 *     (utime + stime from /proc/<pid>/stat), its peak RSS (VmHWM), live-update pings received.
 *  2. rebuild: `rebuildActionLog` (replay both streams into shadow tables, swap) in this process: messages/s,
 *     CPU ms per message (process.cpuUsage), peak RSS; the rebuilt tables must hold the same rows.
 * The machine is shared: compare before/after in one session, several rounds.
 */
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import type { Bus } from '@patchflow/bus';
import type { WorkflowEvent, WorkflowName, WorkItem } from '@patchflow/contracts';
import { createLogger } from '@patchflow/log';
import {
  buildWorkItem,
  connectTestBus,
  createTestDatabase,
  deleteNamespaceStreams,
  ServiceProcess,
  testNatsUrl,
  testPool,
  uniqueNamespace,
  waitFor,
} from '@patchflow/testing';
import { openActionLogOrm, rebuildActionLog } from '../src/index.js';

const { values } = parseArgs({
  options: {
    items: { type: 'string', default: '400' },
    rounds: { type: 'string', default: '1' },
    rebuilds: { type: 'string', default: '1' },
    rate: { type: 'string', default: '0' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write(
    'Usage: bench-action-log.ts [--items N (default 400, 17 messages each)] [--rounds R (default 1)] [--rebuilds K (rebuilds per round, default 1)] [--rate MSGS_PER_S (live, default 0: as fast as possible)]\n',
  );
  process.exit(0);
}
const items = Number(values.items);
const rounds = Number(values.rounds);
const rebuilds = Number(values.rebuilds);
/** Messages/s offered to the live consumers; 0: as fast as publishing goes (64 in flight). */
const rate = Number(values.rate);
const say = (line: string) => process.stderr.write(`bench:action-log: ${line}\n`);

const TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / TICKS;
}
function hwmMbOf(pid: number | 'self'): number {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

function rssMbOf(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

let clock = Date.parse('2026-11-25T10:00:00.000Z');
const next = () => new Date((clock += 3)).toISOString();

/** One work item's messages in the order a real run publishes them (work first, then per workflow). */
function messagesFor(work: WorkItem): { subject: (bus: Bus) => string; value: unknown; msgId?: string }[] {
  const out: { subject: (bus: Bus) => string; value: unknown; msgId?: string }[] = [
    { subject: (bus) => bus.topology.work(work.transition.action), value: work, msgId: work.workId },
  ];
  for (const workflow of work.workflows) {
    const base = { workId: work.workId, patchId: work.patch.id, action: work.transition.action, workflow, attempt: 1 };
    const exec = (status: 'running' | 'succeeded'): WorkflowEvent => ({
      kind: 'execution',
      eventId: crypto.randomUUID(),
      ...base,
      at: next(),
      status,
      willRetry: false,
      deadLettered: false,
    });
    const step = (n: number): WorkflowEvent => ({
      kind: 'step',
      eventId: crypto.randomUUID(),
      ...base,
      at: next(),
      subactionType: `patch.workflow.${work.transition.action}.step${n}`,
      message: `${workflow} did step ${n}`,
      metadata: { n },
    });
    const wf: WorkflowName = workflow;
    for (const e of [exec('running'), step(1), step(2), exec('succeeded')]) {
      out.push({ subject: (bus) => (e.kind === 'step' ? bus.topology.step(wf) : bus.topology.execution(wf)), value: e });
    }
  }
  return out;
}

async function rowCounts(url: string): Promise<string> {
  const sql = testPool(url);
  try {
    const r = await sql.query<{ t: string; n: string }>(
      `select 'work' t, count(*) n from action_log_work union all select 'exec', count(*) from action_log_execution
       union all select 'event', count(*) from action_log_execution_event union all select 'step', count(*) from action_log_step
       union all select 'succeeded', count(*) from action_log_execution where status = 'succeeded'`,
    );
    return r.rows.map((x) => `${x.t}=${x.n}`).join(' ');
  } finally {
    await sql.end();
  }
}

async function round(n: number): Promise<void> {
  const db = await createTestDatabase('action_log_bench');
  const namespace = uniqueNamespace('albench');
  const bus = await connectTestBus(namespace);
  let pings = 0;
  bus.listen(bus.topology.allActionLogUpdates, () => {
    pings += 1;
  });
  const service = ServiceProcess.start('services/action-log/src/main.ts', {
    ACTION_LOG_DATABASE_URL: db.url,
    NATS_URL: testNatsUrl(),
    BUS_NAMESPACE: namespace,
    LOG_LEVEL: 'warn',
  });
  try {
    // Ready once both durable consumers exist.
    const defs = bus.topology.actionLogConsumers();
    await waitFor(
      async () => {
        for (const d of [defs.work, defs.events]) {
          if (!(await bus.admin.consumerInfo(d.stream, d.durableName).catch(() => undefined))) return false;
        }
        return true;
      },
      { what: 'the action-log consumers', timeoutMs: 30_000 },
    );
    await new Promise((r) => setTimeout(r, 500));
    // Patches with five transitions each (history queries and pings are per patch).
    const work: WorkItem[] = [];
    for (let i = 0; i < items; i += 1) {
      const patchId = i % 5 === 0 ? crypto.randomUUID() : work[i - 1]!.patch.id;
      work.push(buildWorkItem('startDeployment', { id: patchId, version: 2 + (i % 5) }));
    }
    const messages = work.flatMap(messagesFor);
    const pid = service.pid!;
    const idleRss = rssMbOf(pid);
    const cpu0 = cpuMsOf(pid);
    const t0 = performance.now();
    const window = new Set<Promise<unknown>>();
    for (const [i, m] of messages.entries()) {
      if (rate > 0) {
        const due = t0 + (i * 1000) / rate;
        if (due > performance.now()) await new Promise((r) => setTimeout(r, due - performance.now()));
      }
      const p = bus.publish(m.subject(bus), m.value, m.msgId ? { msgId: m.msgId } : {});
      window.add(p);
      void p.finally(() => window.delete(p));
      if (window.size >= 64) await Promise.race(window);
    }
    await Promise.all(window);
    const published = performance.now();
    await waitFor(
      async () => {
        for (const d of [defs.work, defs.events]) {
          const info = await bus.admin.consumerInfo(d.stream, d.durableName);
          if (info.pending > 0 || info.ackPending > 0) return false;
        }
        return true;
      },
      { what: 'the consumers to be idle', timeoutMs: 600_000, intervalMs: 20 },
    );
    const t1 = performance.now();
    const cpu1 = cpuMsOf(pid);
    const liveRss = hwmMbOf(pid);
    const liveRows = await rowCounts(db.url);
    say(
      `round ${n} live: ${messages.length} messages in ${((t1 - t0) / 1000).toFixed(2)} s (published in ${((published - t0) / 1000).toFixed(2)} s) = ` +
        `${Math.round((messages.length * 1000) / (t1 - t0))} msg/s; service CPU ${((cpu1 - cpu0) / messages.length).toFixed(3)} ms/msg ` +
        `(${((cpu1 - cpu0) / items).toFixed(2)} ms per work item); peak RSS ${liveRss.toFixed(0)} MB (${idleRss.toFixed(0)} MB idle before); ${pings} pings; ${liveRows}`,
    );

    const logger = createLogger('bench-rebuild', 'warn');
    const orm = await openActionLogOrm(db.url, logger);
    for (let k = 1; k <= rebuilds; k += 1)
      try {
        const c0 = process.cpuUsage();
        const r0 = performance.now();
        const phases: string[] = [];
        const report = await rebuildActionLog({
          orm,
          bus,
          logger,
          onProgress: (p) => {
            if (p.done === p.total)
              phases.push(`${p.stream.replace(/^.*_/, '')} done at ${((performance.now() - r0) / 1000).toFixed(2)} s`);
          },
        });
        const r1 = performance.now();
        const c = process.cpuUsage(c0);
        const total = report.work + report.events;
        const rebuiltRows = await rowCounts(db.url);
        say(
          `round ${n} rebuild ${k}: ${total} messages in ${((r1 - r0) / 1000).toFixed(2)} s = ${Math.round((total * 1000) / (r1 - r0))} msg/s; ` +
            `CPU ${((c.user + c.system) / 1000 / total).toFixed(3)} ms/msg; peak RSS (bench process) ${hwmMbOf('self').toFixed(0)} MB; ` +
            `${rebuiltRows}${rebuiltRows === liveRows ? ' (same as live)' : ' DIFFERS FROM LIVE'}; ${phases.join(', ')}`,
        );
      } finally {
        if (k === rebuilds) await orm.close();
      }
  } finally {
    await service.stop();
    await deleteNamespaceStreams(bus);
    await bus.drain();
    await db.drop();
  }
}

say(
  `${items} work items × 17 messages, ${rounds} round(s); load average ${(await import('node:os'))
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
for (let i = 1; i <= rounds; i += 1) await round(i);
