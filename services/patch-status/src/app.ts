import pg from 'pg';
import type { MikroORM } from '@mikro-orm/postgresql';
import { Bus } from '@patchflow/bus';
import { EnvError, natsConnection, parseEnv } from '@patchflow/config';
import { databaseName, ensureDatabase } from '@patchflow/db';
import { createLogger, type Logger } from '@patchflow/log';
import { PatchStatusEnv } from './env.js';
import { serveEndpoints } from './endpoints.js';
import { serveOutboxOps } from './ops-outbox.js';
import { initOrm, migrateAs } from './orm.js';
import { OutboxPublisher } from './outbox-publisher.js';
import { OutboxRelay } from './outbox-relay.js';
import { PatchStatusService } from './patch-status-service.js';
import { TransitionStore } from './transition-store.js';

export interface PatchStatusApp {
  bus: Bus;
  service: PatchStatusService;
  relay: OutboxRelay;
  /** The ORM and the transition pool, for tests that build a service over other ports. */
  orm: MikroORM;
  pool: pg.Pool;
  /** Stops taking requests, finishes in-flight ones and publishes, then closes everything. */
  stop(): Promise<void>;
}

export interface StartOptions {
  databaseUrl: string;
  natsUrl: string;
  namespace?: string;
  logLevel?: PatchStatusEnv['LOG_LEVEL'];
  logger?: Logger;
  /** Any other PatchStatusEnv variable, as strings (like process.env). */
  env?: Record<string, string>;
}

/** Builds and starts patch-status in this process (tests and benchmarks use this directly). */
export async function startPatchStatus(options: StartOptions): Promise<PatchStatusApp> {
  const env = parseEnv(PatchStatusEnv, {
    ...options.env,
    DATABASE_URL: options.databaseUrl,
    NATS_URL: options.natsUrl,
    BUS_NAMESPACE: options.namespace ?? '',
    LOG_LEVEL: options.logLevel ?? 'info',
  });
  return start(env, options.logger ?? createLogger('patch-status', env.LOG_LEVEL));
}

export async function start(env: PatchStatusEnv, logger: Logger): Promise<PatchStatusApp> {
  const ownerUrl = env.MIGRATION_DATABASE_URL;
  if (ownerUrl && databaseName(ownerUrl) !== databaseName(env.DATABASE_URL)) {
    throw new EnvError('invalid environment:\n  MIGRATION_DATABASE_URL: must name the same database as DATABASE_URL');
  }
  await ensureDatabase(ownerUrl ?? env.DATABASE_URL);
  const orm = await initOrm(env.DATABASE_URL, logger, Math.max(2, Math.ceil(env.PATCH_STATUS_DB_POOL_SIZE / 2)));
  try {
    const applied = await migrateAs(ownerUrl, orm, logger);
    if (applied.length) logger.info({ applied }, 'migrations applied');
  } catch (err) {
    await orm.close();
    throw err;
  }
  const pool = new pg.Pool({ connectionString: env.DATABASE_URL, max: env.PATCH_STATUS_DB_POOL_SIZE });
  // An idle connection dropped by the server (restart, failover) must not crash the process;
  // the pool replaces it on the next query.
  pool.on('error', (err) => logger.warn({ err: err.message }, 'idle Postgres connection lost'));
  let bus: Bus;
  try {
    bus = await Bus.connect({
      ...natsConnection(env),
      name: 'patch-status',
      service: 'patch-status',
      namespace: env.BUS_NAMESPACE,
      logger,
    });
    await bus.ensureStreams(['work']);
  } catch (err) {
    await pool.end();
    await orm.close();
    throw err;
  }
  // `published_at` is bookkeeping: losing the last few marks in a crash only makes the relay
  // publish those items again (a duplicate JetStream drops). So these updates do not wait for
  // the WAL flush, and stay off the connections transitions use.
  const bookkeeping = new pg.Pool({ connectionString: env.DATABASE_URL, max: 1, options: '-c synchronous_commit=off' });
  bookkeeping.on('error', (err) => logger.warn({ err: err.message }, 'idle Postgres connection lost'));
  const publisher = new OutboxPublisher(bus, bookkeeping, logger);
  const service = new PatchStatusService({
    orm,
    transitions: new TransitionStore(pool, { maxBatch: env.TRANSITION_BATCH_MAX, maxInFlight: env.TRANSITION_BATCH_IN_FLIGHT }),
    logger,
    onCommitted: (work) => publisher.publishSoon(work),
  });
  const relay = new OutboxRelay(bus, pool, logger, {
    intervalMs: env.OUTBOX_RELAY_INTERVAL_MS,
    graceMs: env.OUTBOX_RELAY_GRACE_MS,
    batchSize: env.OUTBOX_RELAY_BATCH,
  });
  serveEndpoints(bus, service);
  serveOutboxOps(bus, relay, pool, env.OUTBOX_RELAY_BATCH, logger);
  relay.start();
  logger.info({ namespace: env.BUS_NAMESPACE || '(none)' }, 'patch-status ready');

  return {
    bus,
    service,
    relay,
    orm,
    pool,
    async stop() {
      // Order: stop relaying; stop taking requests and let in-flight ones answer; wait for the
      // stream to acknowledge what they published and record it; then close NATS and databases.
      await relay.stop();
      await bus.stopServing();
      await publisher.settle(5000);
      await publisher.flush();
      await bus.drain();
      await Promise.all([pool.end(), bookkeeping.end()]);
      await orm.close();
      logger.info('patch-status stopped');
    },
  };
}
