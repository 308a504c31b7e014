import { pino, type Logger, type LoggerOptions } from 'pino';

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

/** One JSON logger per process, named after the service. */
export function createLogger(service: string, level: LogLevel = 'info'): Logger {
  return pino({ name: service, level, redact, base: { service } });
}
