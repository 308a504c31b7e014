import type { FastifyInstance } from 'fastify';
import { lifecycle } from '@patchflow/contracts';
import { parseOrThrow } from '../http-errors.js';
import { kebabCase, LifecycleQuery } from '../http-schemas.js';
import { buildOpenApi } from '../openapi.js';
import type { ServiceClient } from '../service-client.js';

/** The lifecycle, the OpenAPI document, who-am-I and the probes. */
export function metaRoutes(app: FastifyInstance, services: ServiceClient): void {
  const openApi = buildOpenApi();

  app.get('/api/lifecycle', async (request) => {
    const { current } = parseOrThrow(LifecycleQuery, request.query, 'query');
    return {
      initialStatus: lifecycle.initialStatus,
      statuses: lifecycle.statuses,
      actions: lifecycle.actions.map((a) => ({ ...a, path: kebabCase(a.name) })),
      mermaid: lifecycle.toMermaid(current),
    };
  });

  app.get('/api/openapi.json', async () => openApi);

  app.get('/api/session', async (request) => request.principal);

  // Liveness: the process answers. Readiness: it can reach NATS (without NATS every call fails).
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) =>
    services.isConnected ? { status: 'ready' } : reply.code(503).send({ status: 'not ready', reason: 'NATS is not reachable' }),
  );
}
