import { exitWithHelpIfAsked, HealthServer, natsConnection, parseEnv, startOrExit, stopOnSignals } from '@patchflow/config';
import { createLogger } from '@patchflow/log';
import { startActionLog } from './app.js';
import { actionLogEnv, policyFromEnv } from './env.js';

exitWithHelpIfAsked(`action-log — projection of work items, workflow executions and steps; answers history queries

Usage: npm start -w @patchflow/action-log
Rebuild: npx patchctl rebuild action-log --help

Environment: ACTION_LOG_DATABASE_URL, NATS_URL, BUS_NAMESPACE, LOG_LEVEL, ACTION_LOG_MAX_DELIVERIES,
ACTION_LOG_RETRY_BASE_MS, ACTION_LOG_RETRY_MAX_MS (see src/env.ts).
Parked messages: npm run action-log:parked -- --help`);

// Composition root: read the environment, start, stop in reverse on a signal.
// The health port first: /readyz answers 503 "starting" while it migrates and connects.
const health = await startOrExit('action-log', () => HealthServer.start(process.env, 'action-log'));
const env = await startOrExit('action-log', async () => parseEnv(actionLogEnv));
const logger = createLogger('action-log', env.LOG_LEVEL);
const service = await startOrExit('action-log', () =>
  startActionLog({
    databaseUrl: env.ACTION_LOG_DATABASE_URL,
    natsUrl: env.NATS_URL,
    natsAuth: natsConnection(env).auth,
    streamReplicas: env.STREAM_REPLICAS,
    namespace: env.BUS_NAMESPACE,
    logger,
    poisonPolicy: policyFromEnv(env),
  }),
);
// Consuming and serving once started; ready while NATS and its database answer.
health.readyWhenAll({
  'NATS is not reachable': () => service.bus.isConnected,
  'Postgres is not reachable': () => service.orm.isConnected(),
});
stopOnSignals(() => health.whileStopping(() => service.stop()), logger);
