import pg from 'pg';
import { MikroORM } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import type { Logger } from '@patchflow/log';
import { PatchEntity } from './entities/patch.js';
import { PatchTransitionEntity } from './entities/patch-transition.js';
import { PatchTransitionWorkEntity } from './entities/patch-transition-work.js';
import { Migration20261125000000_initial } from './migrations/Migration20261125000000_initial.js';
import { Migration20261126000000_immutable_audit } from './migrations/Migration20261126000000_immutable_audit.js';
import { Migration20261126010000_idempotency_scope } from './migrations/Migration20261126010000_idempotency_scope.js';
import { Migration20261126020000_unique_product_name } from './migrations/Migration20261126020000_unique_product_name.js';
import { Migration20261126030000_list_by_updated } from './migrations/Migration20261126030000_list_by_updated.js';

/** Listed explicitly so migrations run the same from TypeScript source and from `dist/`. */
const migrationsList = [
  { name: 'Migration20261125000000_initial', class: Migration20261125000000_initial },
  { name: 'Migration20261126000000_immutable_audit', class: Migration20261126000000_immutable_audit },
  { name: 'Migration20261126010000_idempotency_scope', class: Migration20261126010000_idempotency_scope },
  { name: 'Migration20261126020000_unique_product_name', class: Migration20261126020000_unique_product_name },
  { name: 'Migration20261126030000_list_by_updated', class: Migration20261126030000_list_by_updated },
];

export async function initOrm(databaseUrl: string, logger: Logger, poolSize = 10): Promise<MikroORM> {
  return MikroORM.init({
    clientUrl: databaseUrl,
    entities: [PatchEntity, PatchTransitionEntity, PatchTransitionWorkEntity],
    extensions: [Migrator],
    migrations: { migrationsList, transactional: true, allOrNothing: true },
    pool: { min: 0, max: poolSize },
    debug: false,
    logger: (message) => logger.debug({ orm: true }, message),
    // Entities are read in a fresh fork per request; the global context is a programming error.
    allowGlobalContext: false,
    forceUtcTimezone: true,
  });
}

/**
 * Applies pending migrations with the owner's connection (`MIGRATION_DATABASE_URL`) when one is
 * given — the service's own role then needs no DDL rights — else with the service's ORM.
 */
export async function migrateAs(ownerUrl: string | undefined, orm: MikroORM, logger: Logger): Promise<string[]> {
  if (!ownerUrl) {
    try {
      return await migrate(orm);
    } catch (err) {
      // 42501 insufficient_privilege: DATABASE_URL is an application role that owns nothing.
      if ((err as { code?: unknown }).code !== '42501') throw err;
      throw new Error(
        `migrations need the role that owns the tables (${(err as Error).message.split(' - ').pop()}): ` +
          'set MIGRATION_DATABASE_URL to that role, or make DATABASE_URL the owner',
        { cause: err },
      );
    }
  }
  const owner = await initOrm(ownerUrl, logger, 1);
  try {
    return await migrate(owner);
  } finally {
    await owner.close();
  }
}

/** The key every patch-status instance takes before migrating (replicas start together). */
const MIGRATION_LOCK = "SELECT pg_advisory_lock(hashtext('patchflow_patch_status_schema'))";
const MIGRATION_UNLOCK = "SELECT pg_advisory_unlock(hashtext('patchflow_patch_status_schema'))";

/**
 * Applies pending migrations; returns the names applied. Under an advisory lock, so of several
 * instances starting at once one migrates and the others then find nothing to do.
 */
export async function migrate(orm: MikroORM): Promise<string[]> {
  const lock = new pg.Client({ connectionString: orm.config.get('clientUrl'), connectionTimeoutMillis: 5000 });
  lock.on('error', () => undefined);
  await lock.connect();
  try {
    await lock.query(MIGRATION_LOCK);
    const applied = await orm.getMigrator().up();
    return applied.map((m) => m.name);
  } finally {
    await lock.query(MIGRATION_UNLOCK).catch(() => undefined);
    await lock.end().catch(() => undefined);
  }
}
