import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { currentTrace } from './trace.js';

export type { Logger } from 'pino';

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

/**
 * Paths whose values never reach a log line. Services put secrets in env and pass them to
 * clients, never to the logger — this list is the second line of defence.
 */
const redact: LoggerOptions['redact'] = {
  paths: [
    '*.token',
    '*.password',
    '*.pass',
    '*.NATS_PASSWORD',
    '*.NATS_TOKEN',
    '*.apiToken',
    '*.triggerToken',
    '*.webhookUrl',
    '*.authorization',
    '*.Authorization',
    'headers.authorization',
    'req.headers.authorization',
    'env.*',
  ],
  censor: '[redacted]',
};

/**
 * One JSON logger per process, named after the service. A line written inside `withTrace` (a
 * traced request, message or execution) carries its `traceId` and `correlationId`.
 */
export function createLogger(service: string, level: LogLevel = 'info', destination?: DestinationStream): Logger {
  return pino({ name: service, level, redact, base: { service }, mixin: traceFields }, destination);
}

function traceFields(): object {
  const t = currentTrace();
  return t ? { traceId: t.traceId, correlationId: t.correlationId } : {};
}

export {
  CORRELATION_ID_HEADER,
  currentTrace,
  formatTraceparent,
  incomingTrace,
  isSpanId,
  isTraceId,
  newSpanId,
  newTraceId,
  parseTraceparent,
  saneCorrelationId,
  traceHeaders,
  TRACEPARENT_HEADER,
  withTrace,
  type TraceContext,
} from './trace.js';
export { startSpan, startTracing, type SpanKindName, type TraceSpan } from './tracing.js';
