import type { FastifyInstance } from 'fastify';
import { ContractError, patchEndpoints } from '@patchflow/contracts';
import { parseOrThrow } from '../http-errors.js';
import { IdParams } from '../http-schemas.js';
import type { LiveUpdates } from '../live-updates.js';
import type { ServiceClient } from '../service-client.js';

export function liveRoutes(app: FastifyInstance, services: ServiceClient, live: LiveUpdates): void {
  // `queryToken`: EventSource cannot send an Authorization header (see auth.ts).
  app.get('/api/patches/:id/events', { config: { queryToken: true } }, async (request, reply) => {
    const { id } = parseOrThrow(IdParams, request.params, 'path');
    const principal = request.principal;
    if (!principal) throw new ContractError('unauthorized', 'missing bearer token');
    live.admit(principal); // refuse early, before asking patch-status
    await services.call(patchEndpoints.get, { id }); // 404 for a patch that does not exist
    // Again, now: other streams may have opened while we waited. Nothing awaits between this and `open`.
    live.admit(principal);
    reply.hijack();
    live.open(id, reply.raw, principal);
  });
}
