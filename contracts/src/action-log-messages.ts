import { z } from 'zod';
import { IsoTime, JsonRecord, PgInt, PgPositiveInt, text, TraceId, Uuid } from './primitives.js';
import { endpoint } from './endpoints.js';
import { ActionNameSchema, MAX_LIST_IDS, PatchStatusSchema, TransitionView, WorkflowNameSchema } from './patch-messages.js';
import { executionStatuses } from './workflow-events.js';
import type { WorkflowName } from './routing.js';

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

/** A web address a browser may open: http or https only (never `javascript:` and the like). */
export const WebUrl = z.url({ protocol: /^https?$/, error: 'must be an http or https URL' }).max(2000);

/**
 * A link an execution points to, logged by the workflow in a step's metadata under `link`
 * (STEP_LINK_KEY): the GitLab pipeline (`pipeline #101` → its web_url), the Jira issue
 * (`PAY-3` → JIRA_URL/browse/PAY-3). The action-log collects them into the execution's `links`,
 * dropping any that fail this schema.
 */
export const StepLink = z.object({ label: text().min(1).max(200), url: WebUrl });
export type StepLink = z.infer<typeof StepLink>;
export const STEP_LINK_KEY = 'link';

/** One delivery (or operator retry) of a work item to a workflow. */
export const AttemptView = z.object({
  attempt: PgPositiveInt,
  startedAt: IsoTime,
  /** Null while it runs. */
  finishedAt: IsoTime.nullable(),
  outcome: z.enum(executionStatuses),
  error: text().nullable(),
});
export type AttemptView = z.infer<typeof AttemptView>;

/** Milliseconds, for durations (not bounded by int4: a status may last months). */
const Millis = z.number().int().min(0);

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
  /** First start → last finish; null while pending, running or waiting for a retry. */
  durationMs: Millis.nullable(),
  /** Every attempt, oldest first. */
  attemptList: z.array(AttemptView),
  /** The links its steps logged (STEP_LINK_KEY), oldest first, each URL once. */
  links: z.array(StepLink),
  steps: z.array(StepView),
});
export type ExecutionView = z.infer<typeof ExecutionView>;

/**
 * Where a transition's effects are: `running` while a routed workflow is not final, `settled`
 * when all are, `failed` when all are and one of them failed (or was dead-lettered).
 */
export const effectStates = ['running', 'settled', 'failed'] as const;
export type EffectState = (typeof effectStates)[number];
export const EffectStateSchema = z.enum(effectStates);

/**
 * An execution is final when nothing more will happen on its own: it succeeded, was skipped, or
 * failed with no retry pending (dead-lettered included). An operator retry may reopen it.
 */
export function isFinalExecution(e: { status: ExecutionViewStatus; willRetry: boolean }): boolean {
  return e.status === 'succeeded' || e.status === 'skipped' || (e.status === 'failed' && !e.willRetry);
}

/** A final execution that failed: an open failure, until a retry succeeds. */
export function isOpenFailure(e: { status: ExecutionViewStatus; willRetry: boolean }): boolean {
  return e.status === 'failed' && !e.willRetry;
}

export const Settlement = z.object({
  /** Every routed workflow's execution is final. */
  settled: z.boolean(),
  /** When the last of them became final (null until settled). */
  settledAt: IsoTime.nullable(),
  /** settledAt − the transition's createdAt. */
  settleMs: Millis.nullable(),
  effects: EffectStateSchema,
  /** Workflows not final yet. */
  running: z.array(WorkflowNameSchema),
  /** Workflows final and failed or dead-lettered. */
  failed: z.array(WorkflowNameSchema),
});
export type Settlement = z.infer<typeof Settlement>;

/**
 * The settlement of one transition from its executions (one per routed workflow; a workflow the
 * action-log has not heard of yet counts as a `pending` one). `since` is the transition's
 * createdAt. The one home of the rule: the gateway's history and the action-log's ping use it.
 */
export function settlementOf(
  executions: readonly { workflow: WorkflowName; status: ExecutionViewStatus; willRetry: boolean; finishedAt: string | null }[],
  since: string | null,
): Settlement {
  const running = executions.filter((e) => !isFinalExecution(e)).map((e) => e.workflow);
  const failed = executions.filter(isOpenFailure).map((e) => e.workflow);
  const settled = running.length === 0;
  const finishes = executions.map((e) => (e.finishedAt ? Date.parse(e.finishedAt) : Number.NaN)).filter((t) => !Number.isNaN(t));
  const last = settled ? (finishes.length ? Math.max(...finishes) : since ? Date.parse(since) : null) : null;
  return {
    settled,
    settledAt: last === null ? null : new Date(last).toISOString(),
    settleMs: last !== null && since ? Math.max(0, last - Date.parse(since)) : null,
    effects: !settled ? 'running' : failed.length ? 'failed' : 'settled',
    running,
    failed,
  };
}

/** The whole patch's effects state from its transitions' (`running` wins over `failed` over `settled`, as per transition). */
export function combinedEffects(states: readonly EffectState[]): EffectState {
  return states.includes('running') ? 'running' : states.includes('failed') ? 'failed' : 'settled';
}

/** One workflow of one work item, as the patch-wide effects list it. */
export const EffectRef = z.object({ workId: Uuid, action: ActionNameSchema, workflow: WorkflowNameSchema });
export type EffectRef = z.infer<typeof EffectRef>;

/** The whole patch: what still runs and what failed, across every transition. */
export const PatchEffects = z.object({
  state: EffectStateSchema,
  running: z.array(EffectRef),
  failed: z.array(EffectRef),
});
export type PatchEffects = z.infer<typeof PatchEffects>;

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
  /** The trace id of the transition's work (from its work item or its first traced event); absent for untraced work. */
  traceId: TraceId.optional(),
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
  /** Every work item of the patch the action-log knows (any page): the others have not arrived yet. */
  knownWorkIds: z.array(Uuid),
  /** The executions of those work items that are not final, and those final and failed (whole patch). */
  open: z.object({ running: z.array(EffectRef), failed: z.array(EffectRef) }),
});
export type ActionLogHistoryResult = z.infer<typeof ActionLogHistoryResult>;

export const ActionLogWorkRequest = z.object({ workId: Uuid });
export const ActionLogWorkResult = z.object({ work: WorkView });
export type ActionLogWorkResult = z.infer<typeof ActionLogWorkResult>;

/** Open failures (final failed or dead-lettered executions) per patch, for the list's badge. */
export const FailureCountsRequest = z.object({ patchIds: z.array(Uuid).max(200) });
export const FailureCountsResult = z.object({
  /** patch id → open failures; patches without any are left out. */
  counts: z.record(z.string(), PgInt),
});
export type FailureCountsResult = z.infer<typeof FailureCountsResult>;

/** The patches with at least one open failure (the list's `hasFailures` filter), most recent failure first. */
export const FailingPatchesRequest = z.object({ limit: z.number().int().min(1).max(MAX_LIST_IDS).default(MAX_LIST_IDS) });
export const FailingPatchesResult = z.object({
  patchIds: z.array(Uuid),
  /** More patches have failures than `limit`: the list shows only the first `limit`. */
  truncated: z.boolean(),
});
export type FailingPatchesResult = z.infer<typeof FailingPatchesResult>;

/**
 * Core-NATS ping on `actionlog.v1.updated.<patchId>` after the projection changed (no payload
 * guarantees). `settled`/`effects` are those of the work item `workId` as the batch left it
 * (defaults for a ping from an older action-log that sends neither).
 */
export const ActionLogUpdated = z.object({
  patchId: Uuid,
  workId: Uuid,
  kind: z.enum(['work', 'step', 'execution']),
  workflow: WorkflowNameSchema.optional(),
  settled: z.boolean().default(false),
  effects: EffectStateSchema.default('running'),
});
export type ActionLogUpdated = z.infer<typeof ActionLogUpdated>;

/** One transition in the gateway's history: never without its transition (read from patch-status). */
export const HistoryEntry = WorkView.extend({
  transition: TransitionView,
  ...Settlement.shape,
});
export type HistoryEntry = z.infer<typeof HistoryEntry>;

/** Time spent in one status; the current one has `leftAt` null and lasts until now. */
export const StatusSpan = z.object({
  status: PatchStatusSchema,
  enteredAt: IsoTime,
  leftAt: IsoTime.nullable(),
  durationMs: Millis,
});
export type StatusSpan = z.infer<typeof StatusSpan>;

/** `GET /api/patches/:id/history`: transitions from patch-status merged with the action-log's executions. */
export const PatchHistoryPage = z.object({
  patchId: Uuid,
  /** One per transition, oldest first, in patch-version order. */
  entries: z.array(HistoryEntry),
  nextCursor: text().nullable(),
  effects: PatchEffects,
  timeInStatus: z.array(StatusSpan),
});
export type PatchHistoryPage = z.infer<typeof PatchHistoryPage>;

/** `GET /api/work/:id`. */
export const WorkEntryResult = z.object({ work: HistoryEntry });
export type WorkEntryResult = z.infer<typeof WorkEntryResult>;

/** The history cursor: the patch version of the last entry of the page (versions only grow). */
export const historyCursor = {
  encode: (patchVersion: number): string => Buffer.from(`v1:${patchVersion}`).toString('base64url'),
  /** The patch version after which the page starts; undefined when the cursor is not one of ours. */
  decode: (cursor: string): number | undefined => {
    const match = /^v1:(\d{1,9})$/.exec(Buffer.from(cursor, 'base64url').toString());
    return match?.[1] ? Number(match[1]) : undefined;
  },
};

/** action-log's request-reply API. */
export const actionLogEndpoints = {
  history: endpoint({
    subject: (t) => t.subjects.actionLogHistory,
    request: ActionLogHistoryRequest,
    result: ActionLogHistoryResult,
  }),
  work: endpoint({ subject: (t) => t.subjects.actionLogWork, request: ActionLogWorkRequest, result: ActionLogWorkResult }),
  failureCounts: endpoint({
    subject: (t) => t.subjects.actionLogFailureCounts,
    request: FailureCountsRequest,
    result: FailureCountsResult,
  }),
  failingPatches: endpoint({
    subject: (t) => t.subjects.actionLogFailingPatches,
    request: FailingPatchesRequest,
    result: FailingPatchesResult,
  }),
} as const;
