import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  AttentionItem,
  ContractError,
  OperatorNote,
  patchEndpoints,
  ReplayOutcome,
  RetryExecutionResult,
  Uuid,
  WorkflowNameSchema,
  workflowNames,
  workflowOpsEndpoints,
  type Role,
  type WorkflowName,
} from '@patchflow/contracts';
import { errors, ok } from '../api-docs.js';
import type { ServiceClient } from '../service-client.js';

/** `/api/work/:workId/workflows/:workflow/…`: one workflow's execution of one work item. */
const ExecutionParams = z.object({ workId: Uuid, workflow: WorkflowNameSchema });
const RetryBody = z.strictObject({ reason: OperatorNote.shape.reason.optional() });
const ReplayBody = z.strictObject({ reason: OperatorNote.shape.reason });
const ReplayResult = z.object({ outcome: ReplayOutcome.extend({ workflow: WorkflowNameSchema }) });
const AttentionResult = z.object({
  /** Oldest first, across every workflow. */
  items: z.array(AttentionItem),
  /** Workflows that did not answer: their items are missing from the list. */
  unanswered: z.array(WorkflowNameSchema),
});

/** A running execution counts as stuck after this long (or at once when its lease ran out). */
const STUCK_AFTER_MS = 10 * 60_000;
/** What the history records when the UI's retry came without a reason. */
const DEFAULT_RETRY_REASON = 'retried from the UI';

function requireRole(request: FastifyRequest, roles: readonly Role[], what: string) {
  const principal = request.principal;
  if (!principal) throw new ContractError('unauthorized', 'missing bearer token');
  if (!roles.includes(principal.role))
    throw new ContractError('forbidden', `role ${principal.role} may not ${what}`, { role: principal.role, allowedRoles: roles });
  return principal;
}

/**
 * The operators' repair routes for the UI: retry a failed or dead-lettered execution, replay one
 * workflow for one transition (admins), and what needs attention across every workflow. Each is a
 * request to the workflow's own ops endpoint, which runs the work through its runtime and records
 * the caller (the token's name) and the reason as a step in the history.
 */
export function opsRoutes(fastify: FastifyInstance, services: ServiceClient): void {
  const app = fastify.withTypeProvider<ZodTypeProvider>();

  app.post(
    '/api/work/:workId/workflows/:workflow/retry',
    {
      schema: {
        operationId: 'retryExecution',
        tags: ['repair'],
        summary:
          'Retry a failed or dead-lettered execution now (operator, admin); 409 when it already succeeded. Recorded in the history with the caller and reason',
        params: ExecutionParams,
        body: RetryBody,
        'x-optional-body': true,
        response: { ...ok('what the retry did', RetryExecutionResult), ...errors(400, 403, 404, 409) },
      },
    },
    async (request) => {
      const principal = requireRole(request, ['operator', 'admin'], 'retry executions');
      const { workId, workflow } = request.params;
      return services.call(workflowOpsEndpoints(workflow).retryExecution, {
        workId,
        actor: principal.name,
        reason: request.body?.reason ?? DEFAULT_RETRY_REASON,
      });
    },
  );

  app.post(
    '/api/work/:workId/workflows/:workflow/replay',
    {
      schema: {
        operationId: 'replayExecution',
        tags: ['repair'],
        summary:
          'Run one workflow again for one transition, even if it succeeded (admin): a new attempt in the history with the caller and reason',
        params: ExecutionParams,
        body: ReplayBody,
        response: { ...ok('what the replay did', ReplayResult), ...errors(400, 403, 404, 409) },
      },
    },
    async (request) => {
      const principal = requireRole(request, ['admin'], 'replay executions');
      const { workId, workflow } = request.params;
      const { outcomes } = await services.call(workflowOpsEndpoints(workflow).replay, {
        items: [{ workId }],
        force: true,
        actor: principal.name,
        reason: request.body.reason,
      });
      const outcome = outcomes[0];
      if (!outcome || outcome.status === 'not_found')
        throw new ContractError('not_found', outcome?.detail ?? `no execution of work ${workId} in workflow ${workflow}`);
      if (outcome.status === 'not_routed')
        throw new ContractError('invalid_transition', outcome.detail ?? `work ${workId} is not routed to workflow ${workflow}`);
      return { outcome: { ...outcome, workflow } };
    },
  );

  app.get(
    '/api/attention',
    {
      schema: {
        operationId: 'attention',
        tags: ['repair'],
        summary:
          'What needs an operator across every workflow (operator, admin): dead letters, executions whose last attempt failed and wait for a redelivery, and stuck ones (running for more than 10 minutes, or whose lease ran out)',
        response: { ...ok('oldest first', AttentionResult), ...errors(403) },
      },
    },
    async (request) => {
      requireRole(request, ['operator', 'admin'], 'see what needs attention');
      const answers = await Promise.all(
        workflowNames.map(async (workflow) => {
          try {
            return {
              workflow,
              items: (await services.call(workflowOpsEndpoints(workflow).attention, { stuckAfterMs: STUCK_AFTER_MS })).items,
            };
          } catch {
            return { workflow, items: undefined };
          }
        }),
      );
      const items = answers.flatMap((a) => a.items ?? []).sort((a, b) => a.since.localeCompare(b.since));
      await fillPatchNames(services, items);
      const unanswered: WorkflowName[] = answers.filter((a) => a.items === undefined).map((a) => a.workflow);
      return { items, unanswered };
    },
  );
}

/** Failed and stuck items come without the patch's name (the workflow keeps ids only): ask patch-status. */
async function fillPatchNames(services: ServiceClient, items: AttentionItem[]): Promise<void> {
  const missing = [...new Set(items.filter((i) => i.patchName === null).map((i) => i.patchId))];
  const names = new Map<string, string>();
  await Promise.all(
    missing.map(async (id) => {
      const found = await services.call(patchEndpoints.get, { id }).catch(() => undefined);
      if (found) names.set(id, found.patch.name);
    }),
  );
  for (const i of items) if (i.patchName === null) i.patchName = names.get(i.patchId) ?? null;
}
