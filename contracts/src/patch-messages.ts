import { z } from 'zod';
import { IsoTime, PgPositiveInt, text, Traceparent, Uuid } from './primitives.js';
import { actionNames, roleNames, statusNames } from './lifecycle-definition.js';
import { workflowNames } from './routing.js';

export const PatchStatusSchema = z.enum(statusNames);
export const ActionNameSchema = z.enum(actionNames);
export const RoleSchema = z.enum(roleNames);
export const WorkflowNameSchema = z.enum(workflowNames);

const IdempotencyKey = text().min(1).max(200);

export const PatchView = z.object({
  id: Uuid,
  name: text(),
  product: text(),
  status: PatchStatusSchema,
  version: PgPositiveInt,
  jiraKey: text().nullable(),
  gitRef: text().nullable(),
  predecessorId: Uuid.nullable(),
  /**
   * The actor who created it (the successor workflow's actor for a successor). Work items
   * published before it existed (still in the work stream) carry none: read as ''.
   */
  createdBy: text().default(''),
  createdAt: IsoTime,
  updatedAt: IsoTime,
});
export type PatchView = z.infer<typeof PatchView>;

export const Actor = z.object({
  name: text().min(1).max(100),
  role: RoleSchema,
});
export type Actor = z.infer<typeof Actor>;

/**
 * The successor's name: the last number in the name bumped by one, keeping its zero padding
 * (`2026.48.1` → `2026.48.2`, `rc-09` → `rc-10`). A name without a number gets `.2` appended
 * (it was implicitly the first). One home for the rule: the successor workflow names the next
 * patch with it, and patch-status refuses at create a name whose successor would not be valid.
 */
export function nextPatchName(name: string): string {
  const m = /(\d+)(?!.*\d)/.exec(name);
  if (!m) return `${name}.2`;
  const digits = m[1]!;
  const next = (BigInt(digits) + 1n).toString().padStart(digits.length, '0');
  return `${name.slice(0, m.index)}${next}${name.slice(m.index + digits.length)}`;
}

export const CreatePatchRequest = z.object({
  name: text()
    .min(1)
    .max(200)
    .regex(/^\S(.*\S)?$/, 'must not start or end with whitespace'),
  product: text()
    .min(1)
    .max(100)
    .regex(/^[a-z0-9][a-z0-9._-]*$/, 'lowercase letters, digits, ".", "_" and "-"'),
  jiraKey: text()
    .regex(/^[A-Z][A-Z0-9_]+-[1-9][0-9]*$/, 'a Jira issue key such as PAY-123')
    .optional(),
  gitRef: text().min(1).max(255).optional(),
  /** Set by the successor workflow: the patch this one follows. At most one successor each. */
  predecessorId: Uuid.optional(),
  /** A repeated request with the same key returns the first patch and writes nothing. */
  idempotencyKey: IdempotencyKey.optional(),
  actor: text().min(1).max(100),
});
export type CreatePatchRequest = z.infer<typeof CreatePatchRequest>;
export const CreatePatchResult = z.object({ patch: PatchView, replayed: z.boolean() });
export type CreatePatchResult = z.infer<typeof CreatePatchResult>;

export const GetPatchRequest = z.object({ id: Uuid });
/** Another patch named beside this one (its predecessor or successor). */
export const PatchRef = z.object({ id: Uuid, name: text() });
export type PatchRef = z.infer<typeof PatchRef>;
export const GetPatchResult = z.object({
  patch: PatchView,
  /** Actions the lifecycle allows from the current status (for any role). */
  allowedActions: z.array(ActionNameSchema),
  successorId: Uuid.nullable(),
  predecessor: PatchRef.nullable(),
  successor: PatchRef.nullable(),
});
export type GetPatchResult = z.infer<typeof GetPatchResult>;

/** List orders, each newest first: by the last change (`updated`) or by creation. */
export const patchSorts = ['updated', 'created'] as const;
export type PatchSort = (typeof patchSorts)[number];

/** Most patch ids one list request may be restricted to (`ids`). */
export const MAX_LIST_IDS = 5000;

export const ListPatchesRequest = z.object({
  status: PatchStatusSchema.optional(),
  product: text().min(1).max(100).optional(),
  /** Case-insensitive substring of the name (`%` and `_` match themselves). */
  q: text().min(1).max(200).optional(),
  sort: z.enum(patchSorts).default('updated'),
  /** Only these patches (e.g. those with open failures); pagination stays keyset over the filtered rows. */
  ids: z.array(Uuid).max(MAX_LIST_IDS).optional(),
  limit: z.number().int().min(1).max(200).default(50),
  /** Opaque; the `nextCursor` of the previous page. */
  cursor: text().min(1).max(200).optional(),
});
export type ListPatchesRequest = z.input<typeof ListPatchesRequest>;
export const ListPatchesResult = z.object({ items: z.array(PatchView), nextCursor: text().nullable() });
export type ListPatchesResult = z.infer<typeof ListPatchesResult>;

export const TransitionView = z.object({
  id: Uuid,
  patchId: Uuid,
  action: ActionNameSchema,
  fromStatus: PatchStatusSchema,
  toStatus: PatchStatusSchema,
  actor: text(),
  reason: text().nullable(),
  /** The patch version this transition produced. */
  patchVersion: PgPositiveInt,
  workId: Uuid,
  createdAt: IsoTime,
});
export type TransitionView = z.infer<typeof TransitionView>;

export const TransitionRequest = z.object({
  patchId: Uuid,
  action: ActionNameSchema,
  actor: Actor,
  /** Optimistic check: fail with version_conflict unless the patch is at this version. */
  expectedVersion: PgPositiveInt.optional(),
  reason: text().min(1).max(2000).optional(),
  idempotencyKey: IdempotencyKey.optional(),
});
export type TransitionRequest = z.infer<typeof TransitionRequest>;
export const TransitionResult = z.object({
  patch: PatchView,
  transition: TransitionView,
  /** True when an idempotency key matched an earlier transition: nothing was written. */
  replayed: z.boolean(),
});
export type TransitionResult = z.infer<typeof TransitionResult>;

/** The history of a patch, named by its id or by one of its work items (`GET /api/work/:id`). */
export const PatchHistoryRequest = z
  .object({ patchId: Uuid.optional(), workId: Uuid.optional() })
  .refine((r) => (r.patchId === undefined) !== (r.workId === undefined), {
    message: 'give either patchId or workId',
    path: ['patchId'],
  });
/** Every transition of the patch, oldest first, and the patch as it is now (its owner's view: read-your-writes). */
export const PatchHistoryResult = z.object({ patchId: Uuid, patch: PatchView, transitions: z.array(TransitionView) });
export type PatchHistoryResult = z.infer<typeof PatchHistoryResult>;

/** A trace carried inside a message (the stored work outlives the headers it was published with). */
export const WorkTrace = z.object({ traceparent: Traceparent, correlationId: text().min(1).max(128) });
export type WorkTrace = z.infer<typeof WorkTrace>;

/**
 * The work message, published on `patch.work.v1.<action>` with `Nats-Msg-Id` = workId. It carries
 * everything a workflow needs (the patch as the transition left it), so workflows never read
 * patch-status's tables.
 */
export const WorkItem = z.object({
  workId: Uuid,
  transition: TransitionView,
  patch: PatchView,
  /** The workflows routed for this action when the transition committed. */
  workflows: z.array(WorkflowNameSchema),
  /**
   * The trace of the transition: the W3C `traceparent` of patch-status's transition span and the
   * client's correlation id. Workflows continue it. Optional: items published before it existed
   * (still in the work stream, the outbox, dead letters) carry none.
   */
  trace: WorkTrace.optional(),
});
export type WorkItem = z.infer<typeof WorkItem>;
