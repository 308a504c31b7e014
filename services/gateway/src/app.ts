import { Bus, type NatsAuth } from '@patchflow/bus';
import { createLogger, type Logger, type LogLevel } from '@patchflow/log';
import { checkHttpLimits, defaultHttpLimits, heartbeatMsFor, type HttpLimits } from './http-limits.js';
import { LiveUpdates } from './live-updates.js';
import { buildServer } from './server.js';
import { ServiceClient } from './service-client.js';
import type { TokenRegistry } from './tokens.js';

export interface GatewayOptions {
  natsUrl: string;
  natsAuth?: NatsAuth;
  namespace: string;
  tokens: TokenRegistry;
  port: number;
  host?: string;
  /** NATS request timeout (→ 504). */
  requestTimeoutMs?: number;
  /** HTTP timeouts, rate limit and stream caps; each unset one takes its default. */
  limits?: Partial<HttpLimits>;
  logLevel?: LogLevel;
  logger?: Logger;
}

export interface RunningGateway {
  /** e.g. `http://127.0.0.1:8080` */
  url: string;
  port: number;
  bus: Bus;
  stop(): Promise<void>;
}

/** Starts the gateway in this process (main.ts and the tests both use it). */
export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const logger = options.logger ?? createLogger('gateway', options.logLevel ?? 'info');
  const bus = await Bus.connect({
    url: options.natsUrl,
    auth: options.natsAuth,
    name: 'gateway',
    service: 'gateway',
    namespace: options.namespace,
    logger,
  });
  const limits = checkHttpLimits({ ...defaultHttpLimits, ...options.limits });
  const live = new LiveUpdates(
    bus,
    { perToken: limits.liveStreamsPerToken, total: limits.liveStreamsTotal, heartbeatMs: heartbeatMsFor(limits) },
    logger,
  );
  const app = await buildServer({
    services: new ServiceClient(bus, options.requestTimeoutMs ?? 5000),
    tokens: options.tokens,
    live,
    logger,
    limits,
  });
  const host = options.host ?? '127.0.0.1';
  try {
    await app.listen({ port: options.port, host });
  } catch (err) {
    await bus.close();
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  logger.info({ url, tokens: options.tokens.size }, `gateway listening on ${url}`);
  return {
    url,
    port,
    bus,
    // Stop taking HTTP requests first (in-flight ones finish and need the bus), then the bus.
    async stop() {
      await app.close();
      await bus.drain();
      logger.info('gateway stopped');
    },
  };
}
