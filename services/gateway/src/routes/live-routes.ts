import type { FastifyInstance } from 'fastify';
import { patchEndpoints } from '@patchflow/contracts';
import { parseOrThrow } from '../http-errors.js';
import { IdParams } from '../http-schemas.js';
import type { LiveUpdates } from '../live-updates.js';
import type { ServiceClient } from '../service-client.js';

export function liveRoutes(app: FastifyInstance, services: ServiceClient, live: LiveUpdates): void {
  // `queryToken`: EventSource cannot send an Authorization header (see auth.ts).
  app.get('/api/patches/:id/events', { config: { queryToken: true } }, async (request, reply) => {
    const { id } = parseOrThrow(IdParams, request.params, 'path');
    await services.call(patchEndpoints.get, { id }); // 404 for a patch that does not exist
    reply.hijack();
    live.open(id, reply.raw);
  });
}
