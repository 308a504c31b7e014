import pg from 'pg';
import { actionNames, WorkItem, type ActionName, type WorkflowName } from '@patchflow/contracts';
import { oneLine, usageError } from '../cli-error.js';
import { actorOf, parseReason, parseWorkflow, type Context } from '../context.js';
import { parsePositiveInt, parseTime } from '../duration.js';
import { Progress } from '../progress.js';
import { runReplay } from './replay-run.js';

export interface ReplayOptions {
  fromSeq?: string;
  toSeq?: string;
  since?: string;
  until?: string;
  patch?: string;
  action?: string;
  workflow?: string;
  workflowDatabaseUrl?: string;
  dryRun?: boolean;
  force?: boolean;
  reason?: string;
  actor?: string;
}

/** What a replay of one item would do in one workflow. */
export type ReplayDecision =
  'run' | 'run: forced' | 'skip: already succeeded' | 'skip: not routed' | 'skip: invalid work item' | 'wait: running elsewhere';

export interface ReplayPlanRow {
  seq: number;
  at: string;
  workId: string | null;
  action: string | null;
  patch: string | null;
  workflow: WorkflowName | null;
  /** The execution's state in the workflow database now (null: never ran, or unknown). */
  execution: string | null;
  decision: ReplayDecision;
}

interface Range {
  fromSeq?: number;
  toSeq?: number;
  since?: Date;
  until?: Date;
}

function parseRange(o: ReplayOptions): Range {
  const r: Range = {};
  if (o.fromSeq !== undefined) r.fromSeq = parsePositiveInt(o.fromSeq, '--from-seq');
  if (o.toSeq !== undefined) r.toSeq = parsePositiveInt(o.toSeq, '--to-seq');
  if (o.since !== undefined) r.since = parseTime(o.since, '--since');
  if (o.until !== undefined) r.until = parseTime(o.until, '--until');
  if (r.fromSeq !== undefined && r.toSeq !== undefined && r.fromSeq > r.toSeq)
    throw usageError(`bad range: --from-seq ${r.fromSeq} is after --to-seq ${r.toSeq}`);
  if (r.since && r.until && r.since > r.until)
    throw usageError(`bad range: --since ${r.since.toISOString()} is after --until ${r.until.toISOString()}`);
  if (r.fromSeq !== undefined && r.since) throw usageError('bad range: give --from-seq or --since, not both');
  if (r.fromSeq === undefined && r.since === undefined && r.toSeq === undefined && r.until === undefined && !o.patch) {
    throw usageError('bad range: choose work with --from-seq/--to-seq, --since/--until or --patch');
  }
  return r;
}

/** Executions' states from the workflow database (read-only), or undefined when it cannot be read. */
async function executionStates(url: string, workIds: string[]): Promise<Map<string, string> | { error: string }> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 3000,
    options: '-c default_transaction_read_only=on -c statement_timeout=10000',
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const res = await client.query<{ workflow: string; work_id: string; status: string; lease_until: Date | null }>(
      'SELECT workflow, work_id, status, lease_until FROM workflow_execution WHERE work_id = ANY($1::uuid[])',
      [workIds],
    );
    return new Map(
      res.rows.map((r) => [
        `${r.workflow}:${r.work_id}`,
        r.status === 'running' && r.lease_until && r.lease_until < new Date() ? 'running (lease expired)' : r.status,
      ]),
    );
  } catch (err) {
    return { error: `workflow database: ${oneLine(err).replace(/\/\/[^@/]*@/, '//***@')}` };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * `replay`: reads the chosen work from the work stream (an ordered consumer from the first
 * sequence or time asked for, nothing durable left behind). `--dry-run` says, per item and routed
 * workflow, whether a replay would run it or skip it (already succeeded, not routed); without it
 * each item goes to the workflow's replay endpoint (replay-run.ts), which runs it through its
 * runtime. `--force` runs what already succeeded again, as a new attempt recorded with the actor
 * (`--actor`, else the NATS user) and `--reason`.
 */
export async function replayCommand(ctx: Context, o: ReplayOptions): Promise<void> {
  const range = parseRange(o);
  const target = o.workflow ? parseWorkflow(o.workflow) : undefined;
  if (o.action !== undefined && !(actionNames as readonly string[]).includes(o.action)) {
    throw usageError(`unknown action "${o.action}" (one of ${actionNames.join(', ')})`);
  }
  if (o.reason !== undefined && !o.force) throw usageError('--reason goes with --force (a replay without it records no reason)');
  const force = o.force ? { actor: actorOf(ctx, o.actor), reason: parseReason(o.reason, '--force') } : undefined;
  const bus = await ctx.connect();
  const stream = bus.topology.streams.work.name;
  const info = await bus.admin.streamInfo(stream);
  const last = Math.min(info.lastSeq, range.toSeq ?? Number.MAX_SAFE_INTEGER);
  const items: { seq: number; at: string; work: WorkItem | null; raw: unknown }[] = [];
  const start = range.fromSeq ?? (range.since ? undefined : info.firstSeq);
  if (info.messages > 0 && (start === undefined || start <= last)) {
    const progress = new Progress('reading the work stream', Math.max(0, last - (start ?? info.firstSeq) + 1), {
      json: ctx.json,
    });
    let previous = (start ?? info.firstSeq) - 1;
    for await (const m of bus.admin.readRange(stream, {
      ...(start !== undefined ? { fromSeq: start } : { since: range.since! }),
      toSeq: last,
      ...(range.until ? { until: range.until } : {}),
      ...(o.action ? { subject: bus.topology.work(o.action as ActionName) } : {}),
    })) {
      progress.tick(m.seq - previous);
      previous = m.seq;
      let raw: unknown;
      try {
        raw = m.json();
      } catch {
        raw = undefined;
      }
      const parsed = WorkItem.safeParse(raw);
      const work = parsed.success ? parsed.data : null;
      if (!o.patch || work?.patch.id === o.patch) items.push({ seq: m.seq, at: m.time.toISOString(), work, raw });
    }
    progress.finish();
  }

  const ids = [...new Set(items.flatMap((i) => (i.work ? [i.work.workId] : [])))];
  const url = o.workflowDatabaseUrl ?? ctx.env.WORKFLOW_DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/patchflow_workflows';
  // Only the dry run reads the workflows' database: a replay asks each workflow, which decides.
  const states = ids.length > 0 && o.dryRun ? await executionStates(url, ids) : new Map<string, string>();
  if (!(states instanceof Map))
    process.stderr.write(`patchctl: ${states.error}; "run" below does not know what already succeeded\n`);
  const rows: ReplayPlanRow[] = [];
  for (const i of items) {
    if (!i.work) {
      rows.push({
        seq: i.seq,
        at: i.at,
        workId: null,
        action: null,
        patch: null,
        workflow: target ?? null,
        execution: null,
        decision: 'skip: invalid work item',
      });
      continue;
    }
    const w = i.work;
    for (const workflow of target ? [target] : w.workflows) {
      const execution = states instanceof Map ? (states.get(`${workflow}:${w.workId}`) ?? null) : null;
      const decision: ReplayDecision = !w.workflows.includes(workflow)
        ? 'skip: not routed'
        : execution === 'succeeded'
          ? 'skip: already succeeded'
          : execution === 'running'
            ? 'wait: running elsewhere'
            : 'run';
      rows.push({
        seq: i.seq,
        at: i.at,
        workId: w.workId,
        action: w.transition.action,
        patch: `${w.patch.product} ${w.patch.name}`,
        workflow,
        execution,
        decision,
      });
    }
  }
  if (!o.dryRun) return runReplay(ctx, rows, { force });
  if (force) for (const r of rows) if (r.decision === 'skip: already succeeded') r.decision = 'run: forced';
  if (ctx.json) return ctx.printJson({ stream, dryRun: true, forced: force ?? null, items: rows });
  if (rows.length === 0) return ctx.say('no work in that range');
  ctx.table(
    ['SEQ', 'TIME', 'WORK ID', 'ACTION', 'PATCH', 'WORKFLOW', 'EXECUTION', 'WOULD'],
    rows.map((r) => [r.seq, r.at, r.workId, r.action, r.patch, r.workflow, r.execution, r.decision]),
  );
  const runs = rows.filter((r) => r.decision.startsWith('run')).length;
  ctx.say(`\ndry run: ${runs} execution(s) would run, ${rows.length - runs} skipped; nothing was changed`);
}
