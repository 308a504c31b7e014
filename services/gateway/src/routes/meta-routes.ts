import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { lifecycle } from '@patchflow/contracts';
import { errors, ok } from '../api-docs.js';
import { Caller, Health, kebabCase, LifecycleQuery, LifecycleView, Readiness } from '../http-schemas.js';
import { gatewayReadiness } from '../readiness.js';
import type { ServiceClient } from '../service-client.js';

/** The lifecycle, the OpenAPI document, who-am-I and the probes. */
export function metaRoutes(fastify: FastifyInstance, services: ServiceClient): void {
  const app = fastify.withTypeProvider<ZodTypeProvider>();

  app.get(
    '/api/lifecycle',
    {
      schema: {
        operationId: 'lifecycle',
        tags: ['meta'],
        summary: 'The lifecycle definition, the path of each action, and its Mermaid diagram',
        querystring: LifecycleQuery,
        response: { ...ok('the lifecycle', LifecycleView), ...errors(400) },
      },
    },
    async (request) => ({
      initialStatus: lifecycle.initialStatus,
      statuses: lifecycle.statuses,
      actions: lifecycle.actions.map((a) => ({ ...a, path: kebabCase(a.name) })),
      mermaid: lifecycle.toMermaid(request.query.current),
    }),
  );

  // Public: the document describes the API's shape, never its data, and the rendered reference
  // (`/api/docs`) fetches it from a browser that has no bearer token to send.
  app.get(
    '/api/openapi.json',
    {
      config: { public: true },
      schema: {
        operationId: 'openApi',
        tags: ['meta'],
        summary: 'This document: OpenAPI 3.1, generated from the routes’ zod schemas',
        response: ok('the document', z.looseObject({ openapi: z.string() })),
      },
    },
    async () => fastify.swagger(),
  );

  app.get(
    '/api/session',
    {
      schema: {
        operationId: 'session',
        tags: ['meta'],
        summary: 'Who the token is',
        response: { ...ok('the token’s name and role', Caller), ...errors() },
      },
    },
    async (request) => request.principal,
  );

  // Liveness: the process answers. Readiness: NATS is up and patch-status answers (readiness.ts).
  // Public, and never rate limited: orchestrators poll them whatever clients do.
  const probe = { public: true, rateLimit: false as const };
  const readiness = gatewayReadiness(services);
  app.get(
    '/healthz',
    {
      config: probe,
      schema: { operationId: 'health', tags: ['meta'], summary: 'The process answers', response: ok('alive', Health) },
    },
    async () => ({ status: 'ok' as const }),
  );
  app.get(
    '/readyz',
    {
      config: probe,
      schema: {
        operationId: 'ready',
        tags: ['meta'],
        summary: 'NATS is up and patch-status answers',
        response: { ...ok('ready', Readiness), ...ok('not ready, with the reason', Readiness, 503) },
      },
    },
    async (_request, reply) => {
      const r = await readiness();
      return r.ready ? { status: 'ready' as const } : reply.code(503).send({ status: 'not ready', reason: r.reason });
    },
  );
}
