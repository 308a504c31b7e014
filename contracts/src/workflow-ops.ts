import { z } from 'zod';
import { IsoTime, PgInt, text, Uuid } from './primitives.js';
import type { Endpoint } from './endpoints.js';
import { ActionNameSchema, WorkflowNameSchema } from './patch-messages.js';
import type { WorkflowName } from './routing.js';
import type { Topology } from './topology.js';

/** One dead-lettered work item as an operator sees it. */
export const DeadLetterView = z.object({
  workflow: WorkflowNameSchema,
  workId: Uuid,
  patchId: Uuid,
  patchName: text(),
  action: ActionNameSchema,
  /** Why the workflow gave up (the last error). */
  reason: text(),
  /** Executions attempted before it was dead-lettered. */
  attempts: PgInt,
  deadLetteredAt: IsoTime,
  /** Set when an operator retry succeeded; the item then no longer counts as open. */
  retriedAt: IsoTime.nullable(),
  retries: PgInt,
});
export type DeadLetterView = z.infer<typeof DeadLetterView>;

export const ListDeadLettersRequest = z.object({
  /** Also list items whose retry already succeeded. */
  includeRetried: z.boolean().default(false),
  limit: z.number().int().min(1).max(500).default(100),
});
export type ListDeadLettersRequest = z.input<typeof ListDeadLettersRequest>;
export const ListDeadLettersResult = z.object({ items: z.array(DeadLetterView) });
export type ListDeadLettersResult = z.infer<typeof ListDeadLettersResult>;

/** Re-runs dead-lettered work now: one item by work id, or every open one with `all`. */
export const RetryDeadLettersRequest = z
  .object({ workId: Uuid.optional(), all: z.boolean().default(false) })
  .refine((r) => (r.workId !== undefined) !== r.all, { message: 'give either workId or all: true', path: ['workId'] });
export type RetryDeadLettersRequest = z.input<typeof RetryDeadLettersRequest>;

export const RetryOutcome = z.object({
  workId: Uuid,
  /** `succeeded`: done and the dead letter is closed; `failed`: dead-lettered again with `error`. */
  status: z.enum(['succeeded', 'failed']),
  error: text().optional(),
});
export type RetryOutcome = z.infer<typeof RetryOutcome>;
export const RetryDeadLettersResult = z.object({ outcomes: z.array(RetryOutcome) });
export type RetryDeadLettersResult = z.infer<typeof RetryDeadLettersResult>;

/** A workflow service's operator endpoints (request-reply, shared by its instances). */
export function workflowOpsEndpoints(workflow: WorkflowName) {
  return {
    listDeadLetters: {
      subject: (t: Topology) => t.workflowOps(workflow, 'deadletters.list'),
      request: ListDeadLettersRequest,
      result: ListDeadLettersResult,
    } satisfies Endpoint<typeof ListDeadLettersRequest, typeof ListDeadLettersResult>,
    retryDeadLetters: {
      subject: (t: Topology) => t.workflowOps(workflow, 'deadletters.retry'),
      request: RetryDeadLettersRequest,
      result: RetryDeadLettersResult,
    } satisfies Endpoint<typeof RetryDeadLettersRequest, typeof RetryDeadLettersResult>,
  } as const;
}
