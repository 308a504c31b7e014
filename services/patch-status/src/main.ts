import { BusUnreachableError } from '@patchflow/bus';
import { EnvError, parseEnv } from '@patchflow/config';
import { DatabaseUnreachableError } from '@patchflow/db';
import { createLogger } from '@patchflow/log';
import { start } from './app.js';
import { PatchStatusEnv } from './env.js';

if (process.argv.includes('--help')) {
  console.log(`patch-status — owns patches, transitions and the work outbox

Usage: npm start -w @patchflow/patch-status   (or: node --import tsx src/main.ts)

Environment: DATABASE_URL, NATS_URL, LOG_LEVEL, BUS_NAMESPACE, PATCH_STATUS_DB_POOL_SIZE,
OUTBOX_RELAY_INTERVAL_MS, OUTBOX_RELAY_GRACE_MS, OUTBOX_RELAY_BATCH (see src/env.ts).`);
  process.exit(0);
}

try {
  const env = parseEnv(PatchStatusEnv);
  const logger = createLogger('patch-status', env.LOG_LEVEL);
  const app = await start(env, logger);
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    app.stop().then(
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
    console.error(`patch-status: ${err.message}`);
    process.exit(2);
  }
  throw err;
}
