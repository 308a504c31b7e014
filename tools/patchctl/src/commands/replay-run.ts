import { workflowOpsEndpoints, type ReplayOutcome, type WorkflowName } from '@patchflow/contracts';
import { findingError } from '../cli-error.js';
import type { Context } from '../context.js';
import { Progress } from '../progress.js';
import { clip } from '../table.js';
import type { ReplayPlanRow } from './replay.js';

/** What a replay did with one item in one workflow. */
export interface ReplayRunRow {
  seq: number;
  workId: string | null;
  action: string | null;
  patch: string | null;
  workflow: WorkflowName | null;
  /** The workflow's answer (`ReplayOutcome.status`), `not_routed`/`invalid` decided here, or `no_answer`. */
  result: ReplayOutcome['status'] | 'invalid' | 'no_answer';
  attempt?: number;
  detail?: string;
}

/**
 * Runs a replay plan: one request per item and workflow to that workflow's `replay` endpoint,
 * which reads the work item from the stream itself and runs it through its runtime (an item that
 * succeeded is skipped there unless forced). Items not routed to the workflow, or not a valid work
 * item, are reported without asking. One request per item, so each is reported and a slow one
 * cannot time out the rest; a progress bar on stderr.
 */
export async function runReplay(
  ctx: Context,
  plan: ReplayPlanRow[],
  o: { force: { actor: string; reason: string } | undefined },
): Promise<void> {
  const bus = await ctx.connect();
  // A replay runs the work before it answers: give each call the runtime's HTTP time and more.
  const callTimeoutMs = Math.max(ctx.timeoutMs, 60_000);
  const rows: ReplayRunRow[] = [];
  const progress = new Progress(o.force ? 'replay (forced)' : 'replay', plan.length, { json: ctx.json });
  for (const p of plan) {
    const base = { seq: p.seq, workId: p.workId, action: p.action, patch: p.patch, workflow: p.workflow };
    if (!p.workId || !p.workflow) rows.push({ ...base, result: 'invalid', detail: 'not a valid work item' });
    else if (p.decision === 'skip: not routed') rows.push({ ...base, result: 'not_routed' });
    else {
      const reply = await bus.request(
        workflowOpsEndpoints(p.workflow).replay,
        {
          items: [{ workId: p.workId, streamSeq: p.seq }],
          ...(o.force ? { force: true, actor: o.force.actor, reason: o.force.reason } : {}),
        },
        { timeoutMs: callTimeoutMs },
      );
      if (!reply.ok) rows.push({ ...base, result: 'no_answer', detail: `${reply.error.code}: ${reply.error.message}` });
      else {
        const out = reply.result.outcomes[0];
        rows.push({
          ...base,
          result: out?.status ?? 'no_answer',
          ...(out?.attempt !== undefined ? { attempt: out.attempt } : {}),
          ...(out?.detail !== undefined ? { detail: out.detail } : {}),
        });
      }
    }
    progress.tick(1, rows.at(-1)!.result);
  }
  progress.finish();
  if (ctx.json) ctx.printJson({ dryRun: false, forced: o.force ?? null, items: rows });
  else if (rows.length === 0) ctx.say('no work in that range');
  else {
    ctx.table(
      ['SEQ', 'WORK ID', 'ACTION', 'PATCH', 'WORKFLOW', 'RESULT', 'ATTEMPT', 'DETAIL'],
      rows.map((r) => [r.seq, r.workId, r.action, r.patch, r.workflow, r.result, r.attempt, clip(r.detail, 70)]),
    );
    const ran = rows.filter((r) => r.result === 'succeeded' || r.result === 'skipped').length;
    ctx.say(`\nreplay: ${ran} ran, ${rows.length - ran} not run or failed`);
  }
  const bad = rows.filter(
    (r) => r.result === 'failed' || r.result === 'no_answer' || r.result === 'busy' || r.result === 'not_found',
  );
  if (bad.length > 0) throw findingError(`${bad.length} of ${rows.length} failed or could not run`, 'replay_failed');
}
