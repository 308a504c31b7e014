import { BusUnreachableError } from '@patchflow/bus';
import { EnvError, parseEnv } from '@patchflow/config';
import { createLogger } from '@patchflow/log';
import { startGateway } from './app.js';
import { gatewayEnv } from './env.js';

if (process.argv.includes('--help')) {
  console.log(`gateway — the only HTTP entry: REST API, OpenAPI, live updates and the Action History UI

Usage: npm start -w @patchflow/gateway

Environment: GATEWAY_TOKENS (required, name:role:token,…), GATEWAY_PORT, GATEWAY_HOST,
GATEWAY_REQUEST_TIMEOUT_MS, NATS_URL, BUS_NAMESPACE, LOG_LEVEL (see src/env.ts).`);
  process.exit(0);
}

// Composition root: read the environment, start, stop in reverse on a signal.
try {
  const env = parseEnv(gatewayEnv);
  const logger = createLogger('gateway', env.LOG_LEVEL);
  const gateway = await startGateway({
    natsUrl: env.NATS_URL,
    namespace: env.BUS_NAMESPACE,
    tokens: env.GATEWAY_TOKENS,
    port: env.GATEWAY_PORT,
    host: env.GATEWAY_HOST,
    requestTimeoutMs: env.GATEWAY_REQUEST_TIMEOUT_MS,
    logger,
  });
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    gateway.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
} catch (err) {
  if (err instanceof EnvError || err instanceof BusUnreachableError) {
    console.error(`gateway: ${err.message}`);
    process.exit(2);
  }
  throw err;
}
