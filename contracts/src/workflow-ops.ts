import { z } from 'zod';
import { IsoTime, PgInt, text, Uuid } from './primitives.js';
import { endpoint } from './endpoints.js';
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
  /** Set when an operator discarded it (closed without running it); who and why. */
  discarded: z.object({ at: IsoTime, actor: text(), reason: text() }).nullable(),
});
export type DeadLetterView = z.infer<typeof DeadLetterView>;

export const ListDeadLettersRequest = z.object({
  /** Also list closed items (a retry succeeded, or an operator discarded them). */
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

/** Who asked for an operator action and why: recorded on the execution and as a step in the history. */
export const OperatorNote = z.object({
  /** The operator (the ops user's name, `--actor`, or the gateway token's name). */
  actor: text().trim().min(1).max(100),
  reason: text().trim().min(1).max(1000),
});
export type OperatorNote = z.infer<typeof OperatorNote>;

/**
 * Runs work items again through the workflow's runtime (claim, idempotency, steps, results, dead
 * letters). The service reads each item from the work stream itself (at `streamSeq`, or where its
 * execution row says it was delivered): the caller names work, it never supplies it. Without
 * `force` an item that already succeeded is skipped; with `force` (which needs `actor` and
 * `reason`) it runs as a new attempt, the operator and reason recorded.
 */
export const ReplayRequest = z
  .object({
    items: z
      .array(z.object({ workId: Uuid, streamSeq: z.number().int().min(1).optional() }))
      .min(1)
      .max(100),
    force: z.boolean().default(false),
    actor: OperatorNote.shape.actor.optional(),
    reason: OperatorNote.shape.reason.optional(),
  })
  .refine((r) => !r.force || (r.actor !== undefined && r.reason !== undefined), {
    message: 'force needs a reason and an actor',
    path: ['reason'],
  });
export type ReplayRequest = z.input<typeof ReplayRequest>;

/** What a replay did with one item. */
export const replayStatuses = [
  /** Ran and succeeded (or the handler had nothing to do: `detail` says why). */
  'succeeded',
  'skipped',
  /** Ran and failed: the work is dead-lettered (`detail` is the reason). */
  'failed',
  /** Not run: it already succeeded (give `force` to run it again). */
  'already_succeeded',
  /** Not run: the work item is not routed to this workflow. */
  'not_routed',
  /** Not run: another instance is running it now. */
  'busy',
  /** Not run: no such work item in the work stream (or expired from it). */
  'not_found',
] as const;
export const ReplayOutcome = z.object({
  workId: Uuid,
  status: z.enum(replayStatuses),
  /** The execution's attempt this replay ran as. */
  attempt: PgInt.optional(),
  detail: text().optional(),
});
export type ReplayOutcome = z.infer<typeof ReplayOutcome>;
export const ReplayResult = z.object({ outcomes: z.array(ReplayOutcome) });
export type ReplayResult = z.infer<typeof ReplayResult>;

/**
 * Retries one failed or dead-lettered execution now (an open dead letter is closed on success).
 * `not_found` without an execution; `invalid_transition` when it already succeeded.
 */
export const RetryExecutionRequest = z.object({
  workId: Uuid,
  actor: OperatorNote.shape.actor.optional(),
  reason: OperatorNote.shape.reason.optional(),
});
export type RetryExecutionRequest = z.input<typeof RetryExecutionRequest>;
export const RetryExecutionOutcome = z.object({
  workId: Uuid,
  workflow: WorkflowNameSchema,
  /** `queued`: it is running in another instance right now (or waits for its redelivery there). */
  status: z.enum(['succeeded', 'failed', 'queued']),
  error: text().optional(),
});
export type RetryExecutionOutcome = z.infer<typeof RetryExecutionOutcome>;
export const RetryExecutionResult = z.object({ outcome: RetryExecutionOutcome });
export type RetryExecutionResult = z.infer<typeof RetryExecutionResult>;

/** Closes an open dead letter without running it; the reason stays in the history as a step. */
export const DiscardDeadLetterRequest = OperatorNote.extend({ workId: Uuid });
export type DiscardDeadLetterRequest = z.input<typeof DiscardDeadLetterRequest>;
export const DiscardDeadLetterResult = z.object({ workId: Uuid, discardedAt: IsoTime });
export type DiscardDeadLetterResult = z.infer<typeof DiscardDeadLetterResult>;

/**
 * What needs an operator in one workflow: open dead letters; executions whose last attempt failed
 * and that wait for a redelivery (`failed`); executions running for longer than `stuckAfterMs` or
 * whose lease ran out without an outcome (`stuck`: the process holding it died or hangs).
 */
export const attentionKinds = ['dead_letter', 'failed', 'stuck'] as const;
export const AttentionRequest = z.object({
  stuckAfterMs: z.number().int().min(1000).max(86_400_000).default(600_000),
  limit: z.number().int().min(1).max(500).default(200),
});
export type AttentionRequest = z.input<typeof AttentionRequest>;
export const AttentionItem = z.object({
  kind: z.enum(attentionKinds),
  workId: Uuid,
  patchId: Uuid,
  /** Null when the workflow does not hold the work item (failed/stuck: the caller may look it up). */
  patchName: text().nullable(),
  action: ActionNameSchema,
  workflow: WorkflowNameSchema,
  reason: text(),
  since: IsoTime,
});
export type AttentionItem = z.infer<typeof AttentionItem>;
export const AttentionResult = z.object({ items: z.array(AttentionItem) });
export type AttentionResult = z.infer<typeof AttentionResult>;

/** A workflow service's operator endpoints (request-reply, shared by its instances). */
export function workflowOpsEndpoints(workflow: WorkflowName) {
  const at = (op: Parameters<Topology['workflowOps']>[1]) => (t: Topology) => t.workflowOps(workflow, op);
  return {
    listDeadLetters: endpoint({
      subject: at('deadletters.list'),
      request: ListDeadLettersRequest,
      result: ListDeadLettersResult,
    }),
    retryDeadLetters: endpoint({
      subject: at('deadletters.retry'),
      request: RetryDeadLettersRequest,
      result: RetryDeadLettersResult,
    }),
    discardDeadLetter: endpoint({
      subject: at('deadletters.discard'),
      request: DiscardDeadLetterRequest,
      result: DiscardDeadLetterResult,
    }),
    retryExecution: endpoint({ subject: at('execution.retry'), request: RetryExecutionRequest, result: RetryExecutionResult }),
    replay: endpoint({ subject: at('replay'), request: ReplayRequest, result: ReplayResult }),
    attention: endpoint({ subject: at('attention'), request: AttentionRequest, result: AttentionResult }),
  } as const;
}

/** The outbox as operators see it: work committed by patch-status and not yet on the stream. */
export const OutboxRow = z.object({
  workId: Uuid,
  action: ActionNameSchema,
  patchId: Uuid,
  createdAt: IsoTime,
  publishAttempts: PgInt,
  lastPublishError: text().nullable(),
});
export type OutboxRow = z.infer<typeof OutboxRow>;
export const ListOutboxRequest = z.object({ limit: z.number().int().min(1).max(500).default(100) });
export type ListOutboxRequest = z.input<typeof ListOutboxRequest>;
export const ListOutboxResult = z.object({ backlog: PgInt, items: z.array(OutboxRow) });
export type ListOutboxResult = z.infer<typeof ListOutboxResult>;
export const PublishOutboxRequest = z.object({});
export const PublishOutboxResult = z.object({
  /** Rows published by this push. */
  published: PgInt,
  /** Rows still unpublished afterwards (NATS still refusing, or committed meanwhile). */
  backlog: PgInt,
});
export type PublishOutboxResult = z.infer<typeof PublishOutboxResult>;

/** patch-status's operator endpoints (the outbox relay). */
export const patchStatusOpsEndpoints = {
  listOutbox: endpoint({ subject: (t) => t.patchStatusOps('outbox.list'), request: ListOutboxRequest, result: ListOutboxResult }),
  publishOutbox: endpoint({
    subject: (t) => t.patchStatusOps('outbox.publish'),
    request: PublishOutboxRequest,
    result: PublishOutboxResult,
  }),
} as const;
