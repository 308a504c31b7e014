import type { FastifyInstance } from 'fastify';
import {
  CORRELATION_ID_HEADER,
  incomingTrace,
  parseTraceparent,
  saneCorrelationId,
  startSpan,
  traceHeaders,
  TRACEPARENT_HEADER,
  withTrace,
  type TraceSpan,
} from '@patchflow/log';

declare module 'fastify' {
  interface FastifyRequest {
    /** This request's span: its trace goes to every service the request reaches (see `traceRequests`). */
    traceSpan: TraceSpan | null;
  }
}

const header = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);

/**
 * One span per HTTP request, continuing the client's `traceparent` (a missing or invalid one
 * starts a new trace: W3C says ignore it, so it is never an error) and keeping its
 * `X-Correlation-Id` when sane (else the trace id). The rest of the request runs inside the
 * trace, so the NATS requests it makes and the lines it logs carry it; the response echoes
 * `traceparent` (this span) and `X-Correlation-Id`. Registered first: every later hook is inside.
 */
export function traceRequests(app: FastifyInstance): void {
  app.decorateRequest('traceSpan', null);
  app.addHook('onRequest', (request, reply, done) => {
    const traceparent = header(request.headers[TRACEPARENT_HEADER]);
    const correlationId = header(request.headers[CORRELATION_ID_HEADER.toLowerCase()]);
    const parent = parseTraceparent(traceparent) ? incomingTrace(traceparent, correlationId) : undefined;
    const route = request.routeOptions.url ?? '(unmatched)';
    const span = startSpan(
      `${request.method} ${route}`,
      parent,
      { 'http.request.method': request.method, 'http.route': route },
      'server',
    );
    const trace = parent ? span.trace : { ...span.trace, correlationId: saneCorrelationId(correlationId) ?? span.trace.traceId };
    request.traceSpan = { ...span, trace };
    void reply.headers(traceHeaders(trace));
    withTrace(trace, done);
  });
  app.addHook('onResponse', async (request, reply) => {
    request.traceSpan?.setAttributes({ 'http.response.status_code': reply.statusCode });
    request.traceSpan?.end(reply.statusCode >= 500 ? `HTTP ${reply.statusCode}` : undefined);
  });
}
