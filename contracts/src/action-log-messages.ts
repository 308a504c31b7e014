import { z } from 'zod';
import { IsoTime, JsonRecord, PgInt, PgPositiveInt, text, Uuid } from './primitives.js';
import type { Endpoint } from './endpoints.js';
import { ActionNameSchema, TransitionView, WorkflowNameSchema } from './patch-messages.js';
import { executionStatuses } from './workflow-events.js';

/**
 * An execution as the action-log shows it: `pending` until the workflow reports anything (the
 * work item routed it), then the status of its latest execution event.
 */
export const executionViewStatuses = ['pending', ...executionStatuses] as const;
export type ExecutionViewStatus = (typeof executionViewStatuses)[number];

/** One logged step of an execution, in the order the workflow logged them. */
export const StepView = z.object({
  eventId: Uuid,
  subactionType: text(),
  message: text(),
  metadata: JsonRecord,
  attempt: PgPositiveInt,
  at: IsoTime,
});
export type StepView = z.infer<typeof StepView>;

export const ExecutionView = z.object({
  workId: Uuid,
  workflow: WorkflowNameSchema,
  status: z.enum(executionViewStatuses),
  /** Highest delivery attempt seen (0 while pending). */
  attempts: PgInt,
  /** The error of the latest failed attempt, kept after a later success. */
  lastError: text().nullable(),
  willRetry: z.boolean(),
  deadLettered: z.boolean(),
  startedAt: IsoTime.nullable(),
  finishedAt: IsoTime.nullable(),
  steps: z.array(StepView),
});
export type ExecutionView = z.infer<typeof ExecutionView>;

/** One work item (one transition) with its workflows' executions. */
export const WorkView = z.object({
  workId: Uuid,
  patchId: Uuid,
  action: ActionNameSchema,
  /** Null while only workflow events of this work item have arrived (they may overtake it). */
  transition: TransitionView.nullable(),
  /** The workflows the work item was routed to (empty while the work item is unknown). */
  workflows: z.array(WorkflowNameSchema),
  executions: z.array(ExecutionView),
});
export type WorkView = z.infer<typeof WorkView>;

export const ActionLogHistoryRequest = z.object({
  patchId: Uuid,
  /** Transitions per page, oldest first. */
  limit: z.number().int().min(1).max(200).default(50),
  /** Opaque; the `nextCursor` of the previous page. */
  cursor: text().min(1).max(200).optional(),
});
export type ActionLogHistoryRequest = z.input<typeof ActionLogHistoryRequest>;
export const ActionLogHistoryResult = z.object({
  patchId: Uuid,
  /** One entry per transition the action-log knows (from its work item), in patch-version order. */
  entries: z.array(WorkView),
  nextCursor: text().nullable(),
});
export type ActionLogHistoryResult = z.infer<typeof ActionLogHistoryResult>;

export const ActionLogWorkRequest = z.object({ workId: Uuid });
export const ActionLogWorkResult = z.object({ work: WorkView });
export type ActionLogWorkResult = z.infer<typeof ActionLogWorkResult>;

/** Core-NATS ping on `actionlog.v1.updated.<patchId>` after the projection changed (no payload guarantees). */
export const ActionLogUpdated = z.object({
  patchId: Uuid,
  workId: Uuid,
  kind: z.enum(['work', 'step', 'execution']),
  workflow: WorkflowNameSchema.optional(),
});
export type ActionLogUpdated = z.infer<typeof ActionLogUpdated>;

function endpoint<Req extends z.ZodType, Res extends z.ZodType>(e: Endpoint<Req, Res>): Endpoint<Req, Res> {
  return e;
}

/** action-log's request-reply API. */
export const actionLogEndpoints = {
  history: endpoint({
    subject: (t) => t.subjects.actionLogHistory,
    request: ActionLogHistoryRequest,
    result: ActionLogHistoryResult,
  }),
  work: endpoint({ subject: (t) => t.subjects.actionLogWork, request: ActionLogWorkRequest, result: ActionLogWorkResult }),
} as const;
