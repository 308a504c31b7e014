import { BusUnreachableError } from '@patchflow/bus';
import { EnvError, parseEnv } from '@patchflow/config';
import { DatabaseUnreachableError } from '@patchflow/db';
import { createLogger } from '@patchflow/log';
import { startActionLog } from './app.js';
import { actionLogEnv } from './env.js';

if (process.argv.includes('--help')) {
  console.log(`action-log — projection of work items, workflow executions and steps; answers history queries

Usage: npm start -w @patchflow/action-log
Rebuild: node --conditions=development --import tsx scripts/action-log-rebuild.ts --help

Environment: ACTION_LOG_DATABASE_URL, NATS_URL, BUS_NAMESPACE, LOG_LEVEL (see src/env.ts).`);
  process.exit(0);
}

// Composition root: read the environment, start, stop in reverse on a signal.
try {
  const env = parseEnv(actionLogEnv);
  const logger = createLogger('action-log', env.LOG_LEVEL);
  const service = await startActionLog({
    databaseUrl: env.ACTION_LOG_DATABASE_URL,
    natsUrl: env.NATS_URL,
    namespace: env.BUS_NAMESPACE,
    logger,
  });
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    service.stop().then(
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
  if (err instanceof EnvError || err instanceof DatabaseUnreachableError || err instanceof BusUnreachableError) {
    console.error(`action-log: ${err.message}`);
    process.exit(2);
  }
  throw err;
}
