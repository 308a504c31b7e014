import { MikroORM } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { ensureDatabase } from '@patchflow/db';
import type { Logger } from '@patchflow/log';
import { entities } from './entities/index.js';
import { Migration0001ProjectionTables } from './migrations/migration-0001-projection-tables.js';
import { Migration0002ParkedMessages } from './migrations/migration-0002-parked-messages.js';
import { Migration0003WorkTraceId } from './migrations/migration-0003-work-trace-id.js';
import { Migration0004ExecutionEventStartedAt } from './migrations/migration-0004-execution-event-started-at.js';

export type ActionLogOrm = MikroORM;

/**
 * Opens the action-log's own database (created when missing) and applies its migrations. The
 * migrations are listed here explicitly: no file globbing, so the built and the tsx-run service
 * see the same list.
 */
export async function openActionLogOrm(databaseUrl: string, logger: Logger): Promise<ActionLogOrm> {
  if (await ensureDatabase(databaseUrl)) logger.info('created the action-log database');
  const orm = await MikroORM.init({
    clientUrl: databaseUrl,
    entities,
    extensions: [Migrator],
    // Every unit of work forks explicitly; the global context is a bug.
    allowGlobalContext: false,
    debug: false,
    logger: (message) => logger.debug({ orm: true }, message),
    // Timestamps are instants; never let the server's time zone leak into them.
    forceUtcTimezone: true,
    pool: { min: 0, max: 8 },
    migrations: {
      tableName: 'action_log_migrations',
      migrationsList: [
        { name: 'Migration0001ProjectionTables', class: Migration0001ProjectionTables },
        { name: 'Migration0002ParkedMessages', class: Migration0002ParkedMessages },
        { name: 'Migration0003WorkTraceId', class: Migration0003WorkTraceId },
        { name: 'Migration0004ExecutionEventStartedAt', class: Migration0004ExecutionEventStartedAt },
      ],
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      silent: true,
    },
  });
  const applied = await orm.getMigrator().up();
  if (applied.length > 0) logger.info({ migrations: applied.map((m) => m.name) }, 'applied migrations');
  return orm;
}
