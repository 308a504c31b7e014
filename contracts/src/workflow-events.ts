import { z } from 'zod';
import { IsoTime, JsonRecord, PgInt, PgPositiveInt, text, TraceId, Uuid } from './primitives.js';
import { ActionNameSchema, WorkflowNameSchema, WorkItem } from './patch-messages.js';

export const executionStatuses = ['running', 'succeeded', 'failed', 'skipped'] as const;
export type ExecutionStatus = (typeof executionStatuses)[number];

const base = {
  /** Unique per event; the action-log deduplicates by it. */
  eventId: Uuid,
  workId: Uuid,
  patchId: Uuid,
  action: ActionNameSchema,
  workflow: WorkflowNameSchema,
  /** 1-based run of this work item by this workflow (deliveries and operator retries alike). */
  attempt: PgPositiveInt,
  at: IsoTime,
  /** The work item's trace id (optional: work and events from before tracing carry none). */
  traceId: TraceId.optional(),
};

/** One logged step of an execution (`ActionLogger.subaction`). */
export const StepEvent = z.object({
  ...base,
  kind: z.literal('step'),
  /** e.g. `patch.workflow.startDeployment.createSuccessor` */
  subactionType: text().min(1).max(200),
  message: text().max(4000),
  metadata: JsonRecord.default({}),
});
export type StepEvent = z.infer<typeof StepEvent>;

/**
 * An execution changed state. `failed` with `willRetry` is a transient failure; `failed` without
 * it is final (the work is dead-lettered). `skipped` means nothing to do (already succeeded
 * before, or not configured). Work not routed to a workflow publishes no event at all.
 */
export const ExecutionEvent = z.object({
  ...base,
  kind: z.literal('execution'),
  status: z.enum(executionStatuses),
  error: text().max(4000).optional(),
  /**
   * On an outcome: when its attempt started. The runtime publishes `running` only for an attempt
   * still going after WORKFLOW_RUNNING_EVENT_DELAY_MS, so the outcome says when it began (optional:
   * events from before carry none; the action-log then takes the `running` event's time).
   */
  startedAt: IsoTime.optional(),
  willRetry: z.boolean().default(false),
  deadLettered: z.boolean().default(false),
});
export type ExecutionEvent = z.infer<typeof ExecutionEvent>;

export const WorkflowEvent = z.discriminatedUnion('kind', [StepEvent, ExecutionEvent]);
export type WorkflowEvent = z.infer<typeof WorkflowEvent>;

/** A work item a workflow gave up on; kept in the dead-letter stream for operators. */
export const DeadLetter = z.object({
  workflow: WorkflowNameSchema,
  work: WorkItem,
  reason: text(),
  attempts: PgInt,
  at: IsoTime,
});
export type DeadLetter = z.infer<typeof DeadLetter>;
