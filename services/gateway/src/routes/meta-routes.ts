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

  // Public: the document describes the API's shape, never its data, and the rendered reference
  // in a browser cannot send a bearer token to fetch it.
  app.get('/api/openapi.json', { config: { public: true } }, async () => openApi);

  app.get('/api/session', async (request) => request.principal);

  // Liveness: the process answers. Readiness: it can reach NATS (without NATS every call fails).
  // Public, and never rate limited: orchestrators poll them whatever clients do.
  const probe = { config: { public: true, rateLimit: false as const } };
  app.get('/healthz', probe, async () => ({ status: 'ok' }));
  app.get('/readyz', probe, async (_request, reply) =>
    services.isConnected ? { status: 'ready' } : reply.code(503).send({ status: 'not ready', reason: 'NATS is not reachable' }),
  );
}
