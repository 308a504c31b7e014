import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import {
  actionLogEndpoints,
  ContractError,
  CreatePatchResult,
  historyCursor,
  lifecycle,
  patchEndpoints,
  PatchHistoryPage,
  TransitionResult,
  WorkEntryResult,
  type ActionName,
  type TransitionRequest,
  type WorkView,
} from '@patchflow/contracts';
import { errors, ok } from '../api-docs.js';
import { mayCreate, requireActionRole } from '../auth.js';
import { historyEntry, mergeHistory } from '../history-merge.js';
import {
  ActionBody,
  CreatePatchBody,
  HistoryQuery,
  IdempotencyHeaders,
  IdParams,
  kebabCase,
  ListPatchesQuery,
  PatchDetail,
  PatchListPage,
  TransitionBody,
} from '../http-schemas.js';
import type { ServiceClient } from '../service-client.js';

function principalOf(request: FastifyRequest) {
  if (!request.principal) throw new ContractError('unauthorized', 'missing bearer token');
  return request.principal;
}

const idempotencyKeyOf = (request: FastifyRequest) =>
  IdempotencyHeaders.shape['idempotency-key'].parse(request.headers['idempotency-key']);

/**
 * Patches, transitions and their history: each handler is one (or two) NATS requests. Each route
 * is declared once with its zod schemas: they validate the request, type the handler and make
 * the OpenAPI document.
 */
export function patchRoutes(fastify: FastifyInstance, services: ServiceClient): void {
  const app = fastify.withTypeProvider<ZodTypeProvider>();

  app.post(
    '/api/patches',
    {
      schema: {
        operationId: 'createPatch',
        tags: ['patches'],
        summary: 'Create a patch (operator, admin)',
        headers: IdempotencyHeaders,
        body: CreatePatchBody,
        response: {
          ...ok('created', CreatePatchResult, 201),
          ...ok('replayed: the same Idempotency-Key and request', CreatePatchResult),
          ...errors(400, 403, 409, 422),
        },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      if (!mayCreate(principal))
        throw new ContractError('forbidden', `role ${principal.role} may not create patches`, { role: principal.role });
      const idempotencyKey = idempotencyKeyOf(request);
      const result = await services.call(patchEndpoints.create, {
        ...request.body,
        actor: principal.name,
        ...(idempotencyKey ? { idempotencyKey } : {}),
      });
      return reply.code(result.replayed ? 200 : 201).send(result);
    },
  );

  app.get(
    '/api/patches',
    {
      schema: {
        operationId: 'listPatches',
        tags: ['patches'],
        summary:
          'A page of patches, newest first by the last change (or by creation), filtered by status, product, ' +
          'a name search and open failures; each with its count of open failures',
        querystring: ListPatchesQuery,
        response: { ...ok('a page of patches and the cursor of the next', PatchListPage), ...errors(400) },
      },
    },
    async (request): Promise<PatchListPage> => {
      const { hasFailures, ...query } = request.query;
      // hasFailures: the action-log names the failing patches, patch-status pages over just those
      // (keyset pagination stays exact: the restriction applies before the page is cut).
      const ids = hasFailures === 'true' ? (await services.call(actionLogEndpoints.failingPatches, {})).patchIds : undefined;
      const page = await services.call(patchEndpoints.list, { ...query, ...(ids ? { ids } : {}) });
      const { counts } =
        page.items.length > 0
          ? await services.call(actionLogEndpoints.failureCounts, { patchIds: page.items.map((p) => p.id) })
          : { counts: {} as Record<string, number> };
      return { ...page, items: page.items.map((p) => ({ ...p, failures: counts[p.id] ?? 0 })) };
    },
  );

  app.get(
    '/api/patches/:id',
    {
      schema: {
        operationId: 'getPatch',
        tags: ['patches'],
        summary: 'The patch, its successor, the actions allowed now and those this caller may take',
        params: IdParams,
        response: { ...ok('the patch', PatchDetail), ...errors(400, 404) },
      },
    },
    async (request): Promise<PatchDetail> => {
      const principal = principalOf(request);
      const result = await services.call(patchEndpoints.get, { id: request.params.id });
      return {
        ...result,
        actionsForCaller: result.allowedActions.filter((a) => lifecycle.action(a)?.roles.includes(principal.role)),
        caller: principal,
      };
    },
  );

  const transition = async (
    request: FastifyRequest,
    patchId: string,
    action: ActionName,
    body: { expectedVersion?: number; reason?: string },
  ) => {
    const principal = principalOf(request);
    requireActionRole(principal, action);
    const idempotencyKey = idempotencyKeyOf(request);
    const req: TransitionRequest = { patchId, action, actor: { name: principal.name, role: principal.role }, ...body };
    if (idempotencyKey) req.idempotencyKey = idempotencyKey;
    return services.call(patchEndpoints.transition, req);
  };
  const transitionErrors = errors(400, 403, 404, 409, 422);

  app.post(
    '/api/patches/:id/transitions',
    {
      schema: {
        operationId: 'transitionPatch',
        tags: ['transitions'],
        summary: 'Take any lifecycle action; the token name is recorded as the actor',
        params: IdParams,
        headers: IdempotencyHeaders,
        body: TransitionBody,
        response: { ...ok('transition committed (or replayed)', TransitionResult), ...transitionErrors },
      },
    },
    async (request) => {
      const { action, ...rest } = request.body;
      return transition(request, request.params.id, action, rest);
    },
  );

  // One route per lifecycle action: POST /api/patches/:id/start-deployment, …
  for (const a of lifecycle.actions) {
    app.post(
      `/api/patches/:id/${kebabCase(a.name)}`,
      {
        schema: {
          operationId: a.name,
          tags: ['transitions'],
          summary:
            `${a.label}: ${a.from.join(' | ')} → ${a.to} (roles: ${a.roles.join(', ')}` +
            `${a.requiredFields.length ? `; requires ${a.requiredFields.join(', ')}` : ''})`,
          params: IdParams,
          headers: IdempotencyHeaders,
          body: ActionBody,
          'x-optional-body': true,
          response: { ...ok('transition committed (or replayed)', TransitionResult), ...transitionErrors },
        },
      },
      async (request) => transition(request, request.params.id, a.name, request.body),
    );
  }

  app.get(
    '/api/patches/:id/history',
    {
      schema: {
        operationId: 'patchHistory',
        tags: ['history'],
        summary:
          "Every transition (read-your-writes: from patch-status) with each routed workflow's execution (status, attempts, " +
          "duration, links, steps) and whether its effects settled; the whole patch's effects and time in each status",
        params: IdParams,
        querystring: HistoryQuery,
        response: { ...ok('the history, oldest first', PatchHistoryPage), ...errors(400, 404) },
      },
    },
    async (request): Promise<PatchHistoryPage> => {
      const patchId = request.params.id;
      const { limit = 50, cursor } = request.query;
      const afterVersion = cursor === undefined ? 0 : historyCursor.decode(cursor);
      if (afterVersion === undefined) {
        throw ContractError.validation([{ path: 'cursor', message: 'not a cursor returned by this API' }]);
      }
      // Both owners at once: patch-status has every transition, the action-log what the workflows did.
      const [owner, log] = await Promise.all([
        services.call(patchEndpoints.history, { patchId }),
        services.call(actionLogEndpoints.history, { patchId, limit, ...(cursor ? { cursor } : {}) }),
      ]);
      return mergeHistory(owner, log, { afterVersion, limit }, new Date());
    },
  );

  app.get(
    '/api/work/:id',
    {
      schema: {
        operationId: 'getWork',
        tags: ['history'],
        summary: 'One transition (work item) with its executions, steps and settlement, as in the history',
        params: IdParams,
        response: { ...ok('the work item', WorkEntryResult), ...errors(400, 404) },
      },
    },
    async (request): Promise<WorkEntryResult> => {
      const workId = request.params.id;
      const [owner, work] = await Promise.all([
        services.call(patchEndpoints.history, { workId }),
        services.call(actionLogEndpoints.work, { workId }).then(
          (r): WorkView | undefined => r.work,
          // Not projected yet (the call that made it just returned): its workflows are pending.
          (err: unknown) => {
            if (err instanceof ContractError && err.code === 'not_found') return undefined;
            throw err;
          },
        ),
      ]);
      const transition = owner.transitions.find((t) => t.workId === workId);
      if (!transition) throw new ContractError('not_found', `work item ${workId} does not exist`, { workId });
      return { work: historyEntry(transition, work) };
    },
  );
}
