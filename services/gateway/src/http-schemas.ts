import { z } from 'zod';
import {
  ActionLogHistoryResult,
  ActionLogWorkResult,
  ActionNameSchema,
  CreatePatchRequest,
  CreatePatchResult,
  ErrorBody,
  GetPatchResult,
  ListPatchesRequest,
  ListPatchesResult,
  PatchStatusSchema,
  RoleSchema,
  text,
  TransitionRequest,
  TransitionResult,
} from '@patchflow/contracts';

/**
 * The HTTP shapes, derived from the contract schemas (never re-declared): bodies are strict, so
 * an unknown field is a 400 naming it; query strings are coerced from text. Every string is the
 * contracts' `text()` (no NUL byte) and every integer is bounded, so what Postgres would refuse
 * is a 400 here, not a 500 later.
 */
export const CreatePatchBody = CreatePatchRequest.pick({ name: true, product: true, jiraKey: true, gitRef: true }).strict();

export const TransitionBody = TransitionRequest.pick({ action: true, expectedVersion: true, reason: true }).strict();
export const ActionBody = TransitionRequest.pick({ expectedVersion: true, reason: true }).strict();

export const ListPatchesQuery = z.strictObject({
  status: ListPatchesRequest.shape.status,
  product: ListPatchesRequest.shape.product,
  limit: z.coerce.number().int().min(1).max(200).optional(),
  cursor: ListPatchesRequest.shape.cursor,
});

export const HistoryQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).optional(),
  cursor: text().min(1).max(200).optional(),
});

export const LifecycleQuery = z.strictObject({ current: PatchStatusSchema.optional() });

export const IdParams = z.object({ id: z.uuid() });

/** `Idempotency-Key`: a retried request with the same key is answered from the first one. */
export const IdempotencyKeyHeader = TransitionRequest.shape.idempotencyKey;

export const Caller = z.object({ name: z.string(), role: RoleSchema });

export const PatchDetail = GetPatchResult.extend({
  /** The actions the lifecycle allows now that *this caller's role* may take. */
  actionsForCaller: z.array(ActionNameSchema),
  caller: Caller,
});
export type PatchDetail = z.infer<typeof PatchDetail>;

export const LifecycleView = z.object({
  initialStatus: PatchStatusSchema,
  statuses: z.array(z.object({ name: PatchStatusSchema, label: z.string(), terminal: z.boolean() })),
  actions: z.array(
    z.object({
      name: ActionNameSchema,
      label: z.string(),
      from: z.array(PatchStatusSchema),
      to: PatchStatusSchema,
      roles: z.array(RoleSchema),
      requiredFields: z.array(z.string()),
      /** `POST /api/patches/{id}/<path>` takes this action. */
      path: z.string(),
    }),
  ),
  /** Mermaid `stateDiagram-v2` text (with `current` highlighted when asked). */
  mermaid: z.string(),
});

export const ErrorResponse = z.object({ error: ErrorBody });

export const responses = {
  CreatePatchResult,
  ListPatchesResult,
  PatchDetail,
  TransitionResult,
  ActionLogHistoryResult,
  ActionLogWorkResult,
  LifecycleView,
  Caller,
  ErrorResponse,
};

/** `startDeployment` → `start-deployment`. */
export function kebabCase(action: string): string {
  return action.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
