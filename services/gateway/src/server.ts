import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from '@patchflow/log';
import { authenticate } from './auth.js';
import { errorHandler, sendError } from './http-errors.js';
import type { LiveUpdates } from './live-updates.js';
import { liveRoutes } from './routes/live-routes.js';
import { metaRoutes } from './routes/meta-routes.js';
import { patchRoutes } from './routes/patch-routes.js';
import { uiRoutes } from './routes/ui-routes.js';
import type { ServiceClient } from './service-client.js';
import type { TokenRegistry } from './tokens.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Also accept `?access_token=` on this route (event streams only). */
    queryToken?: boolean;
  }
}

export interface ServerParts {
  services: ServiceClient;
  tokens: TokenRegistry;
  live: LiveUpdates;
  logger: Logger;
}

/** The HTTP server: auth on every /api route, JSON errors, the routes. Not listening yet. */
export function buildServer({ services, tokens, live, logger }: ServerParts): FastifyInstance {
  // fastify's own logger stays off: it would log URLs, and the event stream's carry a token.
  const app = Fastify({ logger: false, bodyLimit: 256 * 1024, return503OnClosing: true });
  app.decorateRequest('principal', null);

  app.addHook('onRequest', async (request) => {
    if (!request.url.startsWith('/api/')) return;
    request.principal = authenticate(tokens, request, request.routeOptions.config?.queryToken === true);
  });

  app.addHook('onResponse', async (request, reply) => {
    logger.info(
      {
        method: request.method,
        route: request.routeOptions.url ?? '(unmatched)',
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
        actor: request.principal?.name,
      },
      'http',
    );
  });

  app.setErrorHandler(errorHandler(logger));
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, 404, { code: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` }),
  );

  // Event streams never finish on their own: end them first, or close() would wait forever.
  app.addHook('preClose', async () => live.close());

  patchRoutes(app, services);
  liveRoutes(app, services, live);
  metaRoutes(app, services);
  uiRoutes(app);
  return app;
}
