import { exitWithHelpIfAsked, HealthServer, parseEnv, startOrExit, stopOnSignals } from '@patchflow/config';
import { createLogger, startTracing } from '@patchflow/log';
import { start } from './app.js';
import { PatchStatusEnv } from './env.js';

exitWithHelpIfAsked(`patch-status — owns patches, transitions and the work outbox

Usage: npm start -w @patchflow/patch-status

Environment: ${Object.keys(PatchStatusEnv.shape).join(', ')}
(see the README's Configuration and src/env.ts).`);

// Composition root: environment → ORM, pools, bus, service, relay; SIGTERM/SIGINT stop them in
// reverse (see PatchStatusApp.stop for the order).
// The health port first: /readyz answers 503 "starting" while it migrates and connects.
const health = await startOrExit('patch-status', () => HealthServer.start(process.env, 'patch-status'));
const env = await startOrExit('patch-status', async () => parseEnv(PatchStatusEnv));
const logger = createLogger('patch-status', env.LOG_LEVEL);
const tracing = await startTracing('patch-status', env.OTEL_EXPORTER_OTLP_ENDPOINT);
const app = await startOrExit('patch-status', () => start(env, logger));
health.readyWhenAll({
  'NATS is not reachable': () => app.bus.isConnected,
  'Postgres is not reachable': () => app.orm.isConnected(),
});
stopOnSignals(() => health.whileStopping(() => app.stop().finally(() => tracing.stop())), logger);
