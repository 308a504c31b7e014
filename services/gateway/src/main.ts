import { exitWithHelpIfAsked, HealthServer, natsConnection, parseEnv, startOrExit, stopOnSignals } from '@patchflow/config';
import { createLogger, startTracing } from '@patchflow/log';
import { startGateway } from './app.js';
import { gatewayEnv, httpLimitsOf } from './env.js';
import { gatewayReadiness } from './readiness.js';
import { ServiceClient } from './service-client.js';

exitWithHelpIfAsked(`gateway — the only HTTP entry: REST API, OpenAPI, live updates and the Action History UI

Usage: npm start -w @patchflow/gateway

Environment: GATEWAY_TOKENS (required, name:role:token,…), GATEWAY_PORT, GATEWAY_HOST,
GATEWAY_REQUEST_TIMEOUT_MS, GATEWAY_HTTP_*_TIMEOUT_MS, GATEWAY_RATE_LIMIT_*, GATEWAY_SSE_MAX_*,
NATS_URL, BUS_NAMESPACE, LOG_LEVEL, OTEL_EXPORTER_OTLP_ENDPOINT (see src/env.ts).`);

// Composition root: read the environment, start, stop in reverse on a signal.
// The health port first: /readyz answers 503 "starting" until the gateway listens.
const health = await startOrExit('gateway', () => HealthServer.start(process.env, 'gateway'));
const env = await startOrExit('gateway', async () => parseEnv(gatewayEnv));
const logger = createLogger('gateway', env.LOG_LEVEL);
const tracing = await startTracing('gateway', env.OTEL_EXPORTER_OTLP_ENDPOINT);
const gateway = await startOrExit('gateway', () =>
  startGateway({
    natsUrl: env.NATS_URL,
    natsAuth: natsConnection(env).auth,
    namespace: env.BUS_NAMESPACE,
    tokens: env.GATEWAY_TOKENS,
    port: env.GATEWAY_PORT,
    host: env.GATEWAY_HOST,
    requestTimeoutMs: env.GATEWAY_REQUEST_TIMEOUT_MS,
    limits: httpLimitsOf(env),
    logger,
  }),
);
// Ready when NATS is up and patch-status answers (see readiness.ts).
health.readyWhen(gatewayReadiness(new ServiceClient(gateway.bus, 1500)));
stopOnSignals(() => health.whileStopping(() => gateway.stop().finally(() => tracing.stop())), logger);
