import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  actionLogEndpoints,
  ContractError,
  lifecycle,
  patchEndpoints,
  type ActionName,
  type TransitionRequest,
} from '@patchflow/contracts';
import { mayCreate, requireActionRole } from '../auth.js';
import { parseOrThrow } from '../http-errors.js';
import {
  ActionBody,
  CreatePatchBody,
  HistoryQuery,
  IdempotencyKeyHeader,
  IdParams,
  kebabCase,
  ListPatchesQuery,
  TransitionBody,
  type PatchDetail,
} from '../http-schemas.js';
import type { ServiceClient } from '../service-client.js';

function principalOf(request: FastifyRequest) {
  if (!request.principal) throw new ContractError('unauthorized', 'missing bearer token');
  return request.principal;
}

const idOf = (request: FastifyRequest) => parseOrThrow(IdParams, request.params, 'path').id;
const idempotencyKeyOf = (request: FastifyRequest) =>
  parseOrThrow(IdempotencyKeyHeader, request.headers['idempotency-key'], 'Idempotency-Key header');

/** Patches, transitions and their history: each handler is one (or two) NATS requests. */
export function patchRoutes(app: FastifyInstance, services: ServiceClient): void {
  app.post('/api/patches', async (request, reply) => {
    const principal = principalOf(request);
    const body = parseOrThrow(CreatePatchBody, request.body ?? {}, 'body');
    if (!mayCreate(principal)) throw new ContractError('forbidden', `role ${principal.role} may not create patches`, { role: principal.role });
    const idempotencyKey = idempotencyKeyOf(request);
    const result = await services.call(patchEndpoints.create, {
      ...body,
      actor: principal.name,
      ...(idempotencyKey ? { idempotencyKey } : {}),
    });
    return reply.code(result.replayed ? 200 : 201).send(result);
  });

  app.get('/api/patches', async (request) => {
    const query = parseOrThrow(ListPatchesQuery, request.query, 'query');
    return services.call(patchEndpoints.list, query);
  });

  app.get('/api/patches/:id', async (request): Promise<PatchDetail> => {
    const principal = principalOf(request);
    const result = await services.call(patchEndpoints.get, { id: idOf(request) });
    return {
      ...result,
      actionsForCaller: result.allowedActions.filter((a) => lifecycle.action(a)?.roles.includes(principal.role)),
      caller: principal,
    };
  });

  const transition = async (request: FastifyRequest, action: ActionName, body: { expectedVersion?: number; reason?: string }) => {
    const principal = principalOf(request);
    const patchId = idOf(request);
    requireActionRole(principal, action);
    const idempotencyKey = idempotencyKeyOf(request);
    const req: TransitionRequest = { patchId, action, actor: { name: principal.name, role: principal.role }, ...body };
    if (idempotencyKey) req.idempotencyKey = idempotencyKey;
    return services.call(patchEndpoints.transition, req);
  };

  app.post('/api/patches/:id/transitions', async (request) => {
    const { action, ...rest } = parseOrThrow(TransitionBody, request.body ?? {}, 'body');
    return transition(request, action, rest);
  });

  // One route per lifecycle action: POST /api/patches/:id/start-deployment, …
  for (const a of lifecycle.actions) {
    app.post(`/api/patches/:id/${kebabCase(a.name)}`, async (request) => {
      const body = parseOrThrow(ActionBody, request.body ?? {}, 'body');
      return transition(request, a.name, body);
    });
  }

  app.get('/api/patches/:id/history', async (request) => {
    const patchId = idOf(request);
    const query = parseOrThrow(HistoryQuery, request.query, 'query');
    return services.call(actionLogEndpoints.history, { patchId, ...query });
  });

  app.get('/api/work/:id', async (request) => services.call(actionLogEndpoints.work, { workId: idOf(request) }));
}
