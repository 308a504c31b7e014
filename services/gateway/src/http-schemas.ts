import { z } from 'zod';
import {
  ActionNameSchema,
  CreatePatchRequest,
  CreatePatchResult,
  ErrorBody,
  errorCodes,
  GetPatchResult,
  ListPatchesRequest,
  ListPatchesResult,
  PatchHistoryPage,
  PatchStatusSchema,
  PatchView,
  PgInt,
  RoleSchema,
  text,
  TransitionRequest,
  TransitionResult,
  WorkEntryResult,
} from '@patchflow/contracts';

/**
 * The HTTP shapes, derived from the contract schemas (never re-declared): bodies are strict, so
 * an unknown field is a 400 naming it; query strings are coerced from text. Every string is the
 * contracts' `text()` (no NUL byte) and every integer is bounded, so what Postgres would refuse
 * is a 400 here, not a 500 later.
 */
/**
 * What the OpenAPI document knows about a schema beyond its shape: an `id` makes it a named
 * component (`#/components/schemas/<id>`, a `$ref` wherever that instance is used), a
 * `description` is shown beside it. Our own registry, not zod's global one, so the contracts'
 * schemas carry no document ids elsewhere.
 */
export const documentedSchemas = z.registry<{ id?: string; description?: string }>();

/** `schema`, described in the OpenAPI document. */
function documented<S extends z.ZodType>(schema: S, description: string): S {
  documentedSchemas.add(schema, { description });
  return schema;
}

export const CreatePatchBody = CreatePatchRequest.pick({ name: true, product: true, jiraKey: true, gitRef: true }).strict();

export const TransitionBody = TransitionRequest.pick({ action: true, expectedVersion: true, reason: true }).strict();
export const ActionBody = TransitionRequest.pick({ expectedVersion: true, reason: true }).strict();

export const ListPatchesQuery = z.strictObject({
  status: ListPatchesRequest.shape.status,
  product: ListPatchesRequest.shape.product,
  q: documented(ListPatchesRequest.shape.q, 'case-insensitive substring of the name (`%` and `_` match themselves)'),
  sort: documented(ListPatchesRequest.shape.sort.unwrap().optional(), 'newest first by the last change (default) or by creation'),
  hasFailures: documented(
    z.enum(['true', 'false']).optional(),
    'true: only patches with an open failed or dead-lettered execution (at most 5,000 of them, the most recent failures)',
  ),
  limit: z.coerce.number().int().min(1).max(200).optional(),
  cursor: ListPatchesRequest.shape.cursor,
});

/** A listed patch with its open failures (failed or dead-lettered executions no retry has fixed). */
export const PatchListItem = PatchView.extend({ failures: PgInt });
export const PatchListPage = ListPatchesResult.extend({ items: z.array(PatchListItem) });
export type PatchListPage = z.infer<typeof PatchListPage>;

export const HistoryQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).optional(),
  cursor: text().min(1).max(200).optional(),
});

export const LifecycleQuery = z.strictObject({ current: PatchStatusSchema.optional() });

export const IdParams = z.object({ id: z.uuid() });

/** `Idempotency-Key`: a retried request with the same key is answered from the first one. */
export const IdempotencyHeaders = z.looseObject({
  'idempotency-key': documented(
    TransitionRequest.shape.idempotencyKey,
    'A retried request with the same key returns the first result and writes nothing; the same key with a different request is 422.',
  ),
});

/** The event stream's query: EventSource cannot send an Authorization header. */
export const StreamQuery = z.strictObject({
  access_token: documented(text().min(1).max(1000).optional(), 'the bearer token, for EventSource (this route only)'),
});

export const Health = z.object({ status: z.literal('ok') });
export const Readiness = z.object({ status: z.enum(['ready', 'not ready']), reason: z.string().optional() });

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

/** The contract's error body, plus the gateway's own HTTP-only code (`rate_limited`, 429). */
export const ErrorResponse = z.object({ error: ErrorBody.extend({ code: z.enum([...errorCodes, 'rate_limited']) }) });

for (const [id, schema] of Object.entries({
  CreatePatchResult,
  PatchListPage,
  PatchDetail,
  TransitionResult,
  PatchHistoryPage,
  WorkEntryResult,
  LifecycleView,
  Caller,
  ErrorResponse,
})) {
  documentedSchemas.add(schema, { id });
}

/** `startDeployment` → `start-deployment`. */
export function kebabCase(action: string): string {
  return action.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
