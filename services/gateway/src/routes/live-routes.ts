import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ContractError, patchEndpoints } from '@patchflow/contracts';
import { errors } from '../api-docs.js';
import { IdParams, StreamQuery } from '../http-schemas.js';
import type { LiveUpdates } from '../live-updates.js';
import type { ServiceClient } from '../service-client.js';

export function liveRoutes(fastify: FastifyInstance, services: ServiceClient, live: LiveUpdates): void {
  // `queryToken`: EventSource cannot send an Authorization header (see auth.ts).
  fastify.withTypeProvider<ZodTypeProvider>().get(
    '/api/patches/:id/events',
    {
      config: { queryToken: true },
      schema: {
        operationId: 'patchEvents',
        tags: ['history'],
        summary: 'Server-Sent Events: `ready`, then `updated` whenever the patch history changes',
        description: 'Accepts `?access_token=` (EventSource sends no headers); no other route does.',
        params: IdParams,
        querystring: StreamQuery,
        response: {
          200: { description: 'an event stream', content: { 'text/event-stream': { schema: z.string() } } },
          ...errors(400, 404),
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const principal = request.principal;
      if (!principal) throw new ContractError('unauthorized', 'missing bearer token');
      live.admit(principal); // refuse early, before asking patch-status
      await services.call(patchEndpoints.get, { id }); // 404 for a patch that does not exist
      // Again, now: other streams may have opened while we waited. Nothing awaits between this and `open`.
      live.admit(principal);
      reply.hijack();
      await live.open(id, reply.raw, principal);
    },
  );
}
