import { patchStatusOpsEndpoints, type Endpoint, type RequestOf } from '@patchflow/contracts';
import { CliError, EXIT, findingError } from '../cli-error.js';
import type { Context } from '../context.js';
import { parsePositiveInt } from '../duration.js';
import { age, clip } from '../table.js';

/** A patch-status ops request; no answer is a finding naming the service (exit 1). */
async function ask<E extends Endpoint>(ctx: Context, endpoint: E, request: RequestOf<E>, timeoutMs = ctx.timeoutMs) {
  const bus = await ctx.connect();
  const reply = await bus.request(endpoint, request, { timeoutMs });
  if (!reply.ok) throw new CliError(`patch-status did not answer: ${reply.error.message}`, EXIT.finding, reply.error.code);
  return reply.result;
}

/**
 * `outbox`: work patch-status committed and has not published yet (NATS refused it or the
 * process stopped between commit and publish), oldest first, with each row's publish attempts
 * and last error. Asked of patch-status over the bus, so operators need no database access.
 */
export async function outboxList(ctx: Context, o: { limit?: string }): Promise<void> {
  const limit = o.limit ? parsePositiveInt(o.limit, '--limit', 500) : 100;
  const result = await ask(ctx, patchStatusOpsEndpoints.listOutbox, { limit });
  if (ctx.json) return ctx.printJson(result);
  if (result.items.length === 0) return ctx.say('outbox empty: every committed transition is on the work stream');
  ctx.table(
    ['WORK ID', 'ACTION', 'PATCH ID', 'AGE', 'ATTEMPTS', 'LAST ERROR'],
    result.items.map((r) => [r.workId, r.action, r.patchId, age(r.createdAt), r.publishAttempts, clip(r.lastPublishError, 70)]),
  );
  ctx.say(
    `\n${result.backlog} unpublished${result.backlog > result.items.length ? ` (first ${result.items.length} shown)` : ''}`,
  );
}

/**
 * `outbox publish`: runs patch-status's outbox relay now (instead of at its next round), e.g. right
 * after NATS is back. Exit 1 when rows remain unpublished.
 */
export async function outboxPublish(ctx: Context): Promise<void> {
  const result = await ask(ctx, patchStatusOpsEndpoints.publishOutbox, {}, Math.max(ctx.timeoutMs, 60_000));
  if (ctx.json) ctx.printJson(result);
  else ctx.say(`published ${result.published}; ${result.backlog} still unpublished`);
  if (result.backlog > 0)
    throw findingError(`${result.backlog} row(s) still unpublished (see patchctl outbox for the last error)`, 'unpublished');
}
