import { workflowOpsEndpoints, type DeadLetterView, type WorkflowName } from '@patchflow/contracts';
import { CliError, EXIT, findingError, usageError } from '../cli-error.js';
import { actorOf, parseReason, parseWorkId, parseWorkflow, workflowsOf, type Context } from '../context.js';
import { parseDuration, parsePositiveInt } from '../duration.js';
import { Progress } from '../progress.js';
import { age, clip } from '../table.js';

const LIST_CAP = 500;

/** Every workflow's (or one's) dead letters, asked in parallel; a workflow that does not answer is named. */
async function listAll(ctx: Context, workflows: WorkflowName[], includeRetried: boolean, limit: number) {
  const bus = await ctx.connect();
  const replies = await Promise.all(
    workflows.map(async (w) => ({
      w,
      reply: await bus.request(workflowOpsEndpoints(w).listDeadLetters, { includeRetried, limit }, { timeoutMs: ctx.timeoutMs }),
    })),
  );
  const items: DeadLetterView[] = [];
  const unanswered: { workflow: WorkflowName; error: string }[] = [];
  for (const { w, reply } of replies) {
    if (reply.ok) items.push(...reply.result.items);
    else unanswered.push({ workflow: w, error: `${reply.error.code}: ${reply.error.message}` });
  }
  items.sort((a, b) => a.deadLetteredAt.localeCompare(b.deadLetteredAt));
  return { items, unanswered };
}

export async function dlqList(ctx: Context, o: { workflow?: string; includeRetried?: boolean; limit?: string }): Promise<void> {
  const workflows = workflowsOf(o.workflow);
  const limit = o.limit ? parsePositiveInt(o.limit, '--limit', LIST_CAP) : 100;
  const { items, unanswered } = await listAll(ctx, workflows, Boolean(o.includeRetried), limit);
  if (ctx.json) ctx.printJson({ items, unanswered });
  else {
    for (const u of unanswered) process.stderr.write(`patchctl: workflow ${u.workflow} did not answer (${u.error})\n`);
    if (items.length === 0) ctx.say(unanswered.length === workflows.length ? '' : 'no dead letters');
    else
      ctx.table(
        ['WORKFLOW', 'WORK ID', 'ACTION', 'PATCH', 'ATTEMPTS', 'RETRIES', 'DEAD-LETTERED', 'RETRIED', 'REASON'],
        items.map((i) => [
          i.workflow,
          i.workId,
          i.action,
          i.patchName,
          i.attempts,
          i.retries,
          `${age(i.deadLetteredAt)} ago`,
          i.retriedAt ? `${age(i.retriedAt)} ago` : null,
          clip(i.reason, 70),
        ]),
      );
  }
  // The list is complete only if every workflow answered.
  if (unanswered.length > 0)
    throw new CliError(`${unanswered.map((u) => u.workflow).join(', ')} did not answer`, EXIT.finding, 'unanswered');
}

export async function dlqShow(ctx: Context, workIdText: string, o: { workflow?: string }): Promise<void> {
  const workId = parseWorkId(workIdText, 'work id');
  const workflows = workflowsOf(o.workflow);
  const { items, unanswered } = await listAll(ctx, workflows, true, LIST_CAP);
  const found = items.filter((i) => i.workId === workId);
  if (found.length === 0) {
    const also = unanswered.length > 0 ? ` (${unanswered.map((u) => u.workflow).join(', ')} did not answer)` : '';
    throw findingError(`no dead letter for work ${workId}${o.workflow ? ` in workflow ${o.workflow}` : ''}${also}`, 'not_found');
  }
  if (ctx.json) return ctx.printJson(found);
  for (const i of found) {
    const rows: [string, string | number][] = [
      ['workflow', i.workflow],
      ['work id', i.workId],
      ['patch', `${i.patchName} (${i.patchId})`],
      ['action', i.action],
      ['attempts', i.attempts],
      ['dead-lettered', `${i.deadLetteredAt} (${age(i.deadLetteredAt)} ago)`],
      ['state', i.retriedAt ? `closed: a retry succeeded at ${i.retriedAt}` : 'open'],
      ['operator retries', i.retries],
      ['reason', i.reason],
    ];
    ctx.say(rows.map(([k, v]) => `${k.padEnd(17)}${v}`).join('\n'));
    ctx.say('');
  }
}

export interface RetryItemResult {
  workflow: WorkflowName;
  workId: string;
  status: 'succeeded' | 'failed' | 'not_open';
  /** Retry calls made for this item (each runs the work once, through the workflow's runtime). */
  tries: number;
  error?: string;
}

/**
 * Retries in rounds: each round asks the workflow to run every item still failing (one request
 * per item, so each is reported and a slow one cannot time out the rest); between rounds it waits
 * `--backoff`, doubling up to `--max-backoff`, so a remote that is still down (Jira answering
 * 503) is not hammered. Each run goes through the runtime: claim, idempotency, steps, results,
 * and a failure dead-letters the item again with the new reason.
 */
export async function dlqRetry(
  ctx: Context,
  o: { workflow?: string; workId?: string; all?: boolean; attempts?: string; backoff?: string; maxBackoff?: string },
): Promise<void> {
  if (!o.workflow) throw usageError('retry needs --workflow <name>');
  const workflow = parseWorkflow(o.workflow);
  if (Boolean(o.workId) === Boolean(o.all)) throw usageError('retry needs either --work-id <uuid> or --all');
  const attempts = parsePositiveInt(o.attempts ?? '1', '--attempts', 100);
  const backoffMs = parseDuration(o.backoff ?? '2s', '--backoff');
  const maxBackoffMs = parseDuration(o.maxBackoff ?? '60s', '--max-backoff');
  if (maxBackoffMs < backoffMs) throw usageError('--max-backoff must not be below --backoff');
  const bus = await ctx.connect();
  const endpoint = workflowOpsEndpoints(workflow);

  let ids: string[];
  if (o.workId) ids = [parseWorkId(o.workId)];
  else {
    const listed = await bus.request(endpoint.listDeadLetters, { limit: LIST_CAP }, { timeoutMs: ctx.timeoutMs });
    if (!listed.ok)
      throw new CliError(`workflow ${workflow} did not answer: ${listed.error.message}`, EXIT.finding, listed.error.code);
    ids = listed.result.items.map((i) => i.workId);
  }
  const results = new Map<string, RetryItemResult>(ids.map((id) => [id, { workflow, workId: id, status: 'failed', tries: 0 }]));
  // A retry runs the work before it answers: give each call the runtime's HTTP time and more.
  const callTimeoutMs = Math.max(ctx.timeoutMs, 60_000);
  let pending = ids;
  for (let round = 1; round <= attempts && pending.length > 0; round++) {
    if (round > 1) {
      const waitMs = Math.min(maxBackoffMs, backoffMs * 2 ** (round - 2));
      ctx.note(`round ${round - 1}: ${pending.length} still failing; next round in ${(waitMs / 1000).toFixed(1)}s`);
      await new Promise((r) => setTimeout(r, waitMs));
    }
    const progress = new Progress(`retry ${workflow} round ${round}/${attempts}`, pending.length, { json: ctx.json });
    const failing: string[] = [];
    for (const id of pending) {
      const r = results.get(id)!;
      r.tries++;
      const reply = await bus.request(endpoint.retryDeadLetters, { workId: id }, { timeoutMs: callTimeoutMs });
      if (!reply.ok) {
        if (reply.error.code === 'not_found') {
          // Closed meanwhile (another operator, or it was never open): nothing to do for it.
          r.status = 'not_open';
          r.error = reply.error.message;
        } else {
          r.status = 'failed';
          r.error = `${reply.error.code}: ${reply.error.message}`;
          failing.push(id);
        }
      } else {
        const outcome = reply.result.outcomes.find((x) => x.workId === id);
        r.status = outcome?.status ?? 'failed';
        if (outcome?.status === 'failed') {
          r.error = outcome.error;
          failing.push(id);
        } else delete r.error;
      }
      progress.tick(1, r.status);
    }
    progress.finish();
    pending = failing;
  }
  const list = [...results.values()];
  if (ctx.json) ctx.printJson(list);
  else if (list.length === 0) ctx.say('nothing to retry');
  else
    ctx.table(
      ['WORKFLOW', 'WORK ID', 'RESULT', 'TRIES', 'ERROR'],
      list.map((r) => [r.workflow, r.workId, r.status, r.tries, clip(r.error, 80)]),
    );
  const failed = list.filter((r) => r.status === 'failed').length;
  if (failed > 0) throw findingError(`${failed} of ${list.length} still failing after ${attempts} round(s)`, 'retry_failed');
  if (o.workId && list[0]?.status === 'not_open')
    throw findingError(`no open dead letter for work ${o.workId} in workflow ${workflow}`, 'not_found');
}

export interface DiscardItemResult {
  workflow: WorkflowName;
  workId: string;
  status: 'discarded' | 'not_open' | 'failed';
  discardedAt?: string;
  error?: string;
}

/**
 * Closes dead letters without running them: the workflow marks each discarded (who, why, when)
 * and logs a step "discarded by <actor>: <reason>", so it stays in the patch's history. Needs a
 * reason; the actor is `--actor` or the NATS user.
 */
export async function dlqDiscard(
  ctx: Context,
  o: { workflow?: string; workId?: string; all?: boolean; reason?: string; actor?: string },
): Promise<void> {
  if (!o.workflow) throw usageError('discard needs --workflow <name>');
  const workflow = parseWorkflow(o.workflow);
  if (Boolean(o.workId) === Boolean(o.all)) throw usageError('discard needs either --work-id <uuid> or --all');
  const workId = o.workId ? parseWorkId(o.workId) : undefined;
  const reason = parseReason(o.reason, 'discard');
  const actor = actorOf(ctx, o.actor);
  const bus = await ctx.connect();
  const endpoint = workflowOpsEndpoints(workflow);
  let ids: string[];
  if (workId) ids = [workId];
  else {
    const listed = await bus.request(endpoint.listDeadLetters, { limit: LIST_CAP }, { timeoutMs: ctx.timeoutMs });
    if (!listed.ok)
      throw new CliError(`workflow ${workflow} did not answer: ${listed.error.message}`, EXIT.finding, listed.error.code);
    ids = listed.result.items.map((i) => i.workId);
  }
  const progress = new Progress(`discard ${workflow}`, ids.length, { json: ctx.json });
  const results: DiscardItemResult[] = [];
  for (const id of ids) {
    const reply = await bus.request(endpoint.discardDeadLetter, { workId: id, actor, reason }, { timeoutMs: ctx.timeoutMs });
    if (reply.ok) results.push({ workflow, workId: id, status: 'discarded', discardedAt: reply.result.discardedAt });
    else if (reply.error.code === 'not_found')
      results.push({ workflow, workId: id, status: 'not_open', error: reply.error.message });
    else results.push({ workflow, workId: id, status: 'failed', error: `${reply.error.code}: ${reply.error.message}` });
    progress.tick(1, results.at(-1)!.status);
  }
  progress.finish();
  if (ctx.json) ctx.printJson(results);
  else if (results.length === 0) ctx.say('nothing to discard');
  else
    ctx.table(
      ['WORKFLOW', 'WORK ID', 'RESULT', 'ERROR'],
      results.map((r) => [r.workflow, r.workId, r.status, clip(r.error, 80)]),
    );
  const failed = results.filter((r) => r.status === 'failed').length;
  if (failed > 0) throw findingError(`${failed} of ${results.length} could not be discarded`, 'discard_failed');
  if (workId && results[0]?.status === 'not_open')
    throw findingError(`no open dead letter for work ${workId} in workflow ${workflow}`, 'not_found');
}
