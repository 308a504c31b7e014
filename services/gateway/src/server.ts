import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyInstance } from 'fastify';
import { counter, durationBuckets, gauge, histogram } from '@patchflow/config';
import type { Logger } from '@patchflow/log';
import { registerApiDocs } from './api-docs.js';
import { identify, requireAccess } from './auth.js';
import { errorHandler, HttpError, sendError } from './http-errors.js';
import { addSecurityHeaders, clientErrorHandler, setSecurityHeaders } from './http-hardening.js';
import { serverTimeouts, type HttpLimits } from './http-limits.js';
import type { LiveUpdates } from './live-updates.js';
import { liveRoutes } from './routes/live-routes.js';
import { metaRoutes } from './routes/meta-routes.js';
import { opsRoutes } from './routes/ops-routes.js';
import { patchRoutes } from './routes/patch-routes.js';
import { traceRequests } from './request-trace.js';
import { uiRoutes } from './routes/ui-routes.js';
import type { ServiceClient } from './service-client.js';
import type { TokenRegistry } from './tokens.js';
import { serializerCompiler, validatorCompiler } from './validation.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route as declared (HEAD twins excluded): what the OpenAPI document must cover. */
    declaredRoutes: { method: string; url: string; hidden: boolean }[];
  }
  interface FastifySchema {
    /** The body may be left out (it reads as `{}`); the document says `required: false`. */
    'x-optional-body'?: boolean;
  }
}

const httpRequests = counter({
  name: 'http_requests_total',
  help: "Gateway HTTP requests answered, by method, route (the matched route's pattern, '(unmatched)' for none) and status",
  labelNames: ['method', 'route', 'status'],
});
const httpSeconds = histogram({
  name: 'http_request_duration_seconds',
  help: 'Time the gateway took to answer an HTTP request (for an event stream: how long it stayed open), by method and route',
  labelNames: ['method', 'route'],
  buckets: durationBuckets,
});

export interface ServerParts {
  services: ServiceClient;
  tokens: TokenRegistry;
  live: LiveUpdates;
  logger: Logger;
  limits: HttpLimits;
}

/**
 * The HTTP server: deny by default (a token on every route not marked public), a rate limit per
 * token, timeouts, security headers, JSON errors, the routes. Not listening yet.
 */
export async function buildServer({ services, tokens, live, logger, limits }: ServerParts): Promise<FastifyInstance> {
  // fastify's own logger stays off: it would log URLs, and the event stream's carry a token.
  const app = Fastify({
    logger: false,
    bodyLimit: 256 * 1024,
    return503OnClosing: true,
    ...serverTimeouts(limits),
    clientErrorHandler: clientErrorHandler(limits),
    // A URL the router cannot decode (`/api/patches%`): our error shape, not fastify's. Answered
    // before routing, so no hook runs: the headers are set here.
    frameworkErrors: (error, _request, reply) =>
      sendError(setSecurityHeaders(reply), 400, {
        code: 'validation_failed',
        message: 'malformed URL',
        details: { fields: [{ path: '(url)', message: error.message }] },
      }),
  });
  app.decorateRequest('principal', null);
  app.decorateRequest('authProblem', null);
  // Each route's zod schemas validate its request (errors in our shape) and make the document.
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  const declaredRoutes: FastifyInstance['declaredRoutes'] = [];
  app.decorate('declaredRoutes', declaredRoutes);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      if (method !== 'HEAD') declaredRoutes.push({ method, url: route.url, hidden: route.schema?.hide === true });
    }
  });

  // Before every other hook: the rest of the request runs inside its trace.
  traceRequests(app);
  // The order is the point: who calls → the rate limit keyed on it → the access decision.
  // All three are instance hooks, so unmatched paths (the not-found handler) pass them too.
  app.addHook('onRequest', async (request) => identify(tokens, request));
  if (limits.rateLimitMax > 0) {
    await app.register(rateLimit, {
      global: false,
      max: limits.rateLimitMax,
      timeWindow: limits.rateLimitWindowMs,
      // Per token; a request without a valid token counts against its IP (token guessing included).
      keyGenerator: (request) => (request.principal ? `token:${request.principal.name}` : `ip:${request.ip}`),
      // Probes are polled by orchestrators and must answer whatever a client does.
      allowList: (request) => request.routeOptions.config?.rateLimit === false,
      errorResponseBuilder: (_request, context) =>
        new HttpError(429, {
          code: 'rate_limited',
          message: `more than ${context.max} requests in ${limits.rateLimitWindowMs / 1000} s; retry in ${context.after}`,
          details: { limit: context.max, retryAfterSeconds: Math.ceil(context.ttl / 1000) },
        }),
    });
    app.addHook('onRequest', app.rateLimit());
  }
  app.addHook('onRequest', async (request) => requireAccess(request));
  app.addHook('onSend', addSecurityHeaders);

  gauge({
    name: 'gateway_live_streams',
    help: 'Live-update event streams (SSE) the gateway holds open',
    collect: (g) => g.set(live.openStreams),
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? '(unmatched)';
    httpRequests.labels(request.method, route, String(reply.statusCode)).inc();
    httpSeconds.labels(request.method, route).observe(reply.elapsedTime / 1000);
    logger.info(
      {
        method: request.method,
        route: request.routeOptions.url ?? '(unmatched)',
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
        actor: request.principal?.name,
        traceId: request.traceSpan?.trace.traceId,
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

  await registerApiDocs(app);
  patchRoutes(app, services);
  liveRoutes(app, services, live);
  metaRoutes(app, services);
  opsRoutes(app, services);
  uiRoutes(app);
  return app;
}
