import { MikroORM } from '@mikro-orm/postgresql';
import { entities, projectionTables } from './entities/index.js';
import type { ActionLogOrm } from './orm.js';

/**
 * The schema a rebuild replays into, beside the live tables: a schema of its own so the
 * projection's unqualified statements (projection.ts) reach these tables through `search_path`
 * alone. Dropped first by every rebuild, so one that died (killed, Postgres gone) leaves nothing
 * the next one trips on.
 */
export const shadowSchema = 'action_log_rebuild';

/** A connection of MikroORM's pool, driven with plain SQL (one session: locks, a transaction). */
export interface Session {
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
}

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;
const shadow = (table: string) => `${ident(shadowSchema)}.${ident(table)}`;

/**
 * The live tables in the order the projection writes them (work, step, execution event,
 * execution: the statement order of projection.ts's batch). Locking them in that order means a
 * live batch never holds a later table while waiting for an earlier one we hold.
 */
const lockOrder = ['action_log_work', 'action_log_step', 'action_log_execution_event', 'action_log_execution'];
if (lockOrder.length !== projectionTables.length || !projectionTables.every((t) => lockOrder.includes(t)))
  throw new Error('shadow-tables.ts: lockOrder must name every projection table');

/** Runs `work` on one connection taken from `orm`'s pool; a transaction left open is rolled back. */
export async function withSession<T>(orm: ActionLogOrm, work: (session: Session) => Promise<T>): Promise<T> {
  const knexClient = orm.em.getConnection().getKnex().client as {
    acquireConnection(): Promise<Session>;
    releaseConnection(c: Session): Promise<void>;
  };
  const session = await knexClient.acquireConnection();
  try {
    return await work(session);
  } catch (err) {
    await session.query('rollback').catch(() => undefined);
    throw err;
  } finally {
    await knexClient.releaseConnection(session);
  }
}

/** The schema the live tables are in: where the migrations created them (the session's current schema). */
export async function liveSchemaOf(session: Session): Promise<string> {
  const { rows } = await session.query('select current_schema() as schema');
  const schema = rows[0]?.schema;
  if (typeof schema !== 'string') throw new Error('the action-log connection has no current schema (search_path is empty)');
  return schema;
}

/**
 * (Re)creates the shadow schema with a table per projection table made like the live one at this
 * moment — columns, defaults, not-null and check constraints (`LIKE … INCLUDING ALL`), then its
 * primary key, indexes and triggers under the live names, so after the swap the schema is exactly what the
 * migrations made (test/schema.test.ts's diff stays empty) and a second rebuild finds the same.
 * Columns added to the live tables since (a later migration) come along by themselves.
 */
export async function createShadowTables(session: Session, live: string): Promise<void> {
  await session.query(`drop schema if exists ${ident(shadowSchema)} cascade`);
  await session.query(`create schema ${ident(shadowSchema)}`).catch((err: unknown) => {
    if ((err as { code?: string }).code !== '42501') throw err;
    throw new Error(
      `cannot create the schema ${shadowSchema} to rebuild into (${(err as Error).message}): the action-log's database role needs CREATE on its database (its owner has it), or rebuild with --drop`,
    );
  });
  for (const t of projectionTables) {
    await session.query(`create table ${shadow(t)} (like ${ident(live)}.${ident(t)} including all excluding indexes)`);
  }
  // Keys first (the replay's `on conflict` needs them), then the other indexes, each under its live name.
  const { rows: keys } = await session.query(
    `select c.relname as "table", k.conname as name, pg_get_constraintdef(k.oid) as def
      from pg_constraint k join pg_class c on c.oid = k.conrelid join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and c.relname = any($2) and k.contype in ('p', 'u', 'x') order by c.relname, k.conname`,
    [live, projectionTables],
  );
  for (const k of keys)
    await session.query(`alter table ${shadow(k.table as string)} add constraint ${ident(k.name as string)} ${k.def as string}`);
  const { rows: indexes } = await session.query(
    `select c.relname as "table", pg_get_indexdef(i.indexrelid) as def, format('%I.%I', n.nspname, c.relname) as qualified
      from pg_index i join pg_class c on c.oid = i.indrelid join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and c.relname = any($2)
        and not exists (select 1 from pg_constraint k where k.conindid = i.indexrelid)
      order by c.relname, i.indexrelid`,
    [live, projectionTables],
  );
  // Triggers too (none today): the replay then writes as the live consumers do.
  const { rows: triggers } = await session.query(
    `select c.relname as "table", pg_get_triggerdef(g.oid) as def, format('%I.%I', n.nspname, c.relname) as qualified
      from pg_trigger g join pg_class c on c.oid = g.tgrelid join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and c.relname = any($2) and not g.tgisinternal order by c.relname, g.tgname`,
    [live, projectionTables],
  );
  for (const d of [...indexes, ...triggers]) {
    const on = ` ON ${d.qualified as string} `;
    const def = d.def as string;
    if (!def.includes(on)) throw new Error(`cannot copy "${def}" to the rebuild's tables`);
    await session.query(def.replace(on, ` ON ${shadow(d.table as string)} `));
  }
}

/**
 * A second MikroORM over the same database whose connections resolve table names in the shadow
 * schema only (`search_path`), for `Projection` to write there unchanged. No `public` behind it:
 * a table missing from the shadow schema is an error, never a write to the live one.
 */
export async function openShadowOrm(orm: ActionLogOrm, connections: number): Promise<ActionLogOrm> {
  const c = orm.config;
  const connection = Object.fromEntries(
    (['clientUrl', 'host', 'port', 'user', 'password', 'dbName'] as const)
      .map((key) => [key, c.get(key)] as const)
      .filter(([, value]) => value !== undefined),
  );
  return MikroORM.init({
    ...connection,
    entities,
    allowGlobalContext: false,
    debug: false,
    forceUtcTimezone: true,
    pool: {
      min: 0,
      max: connections,
      afterCreate: (
        conn: { query(sql: string, cb: (err: Error | null) => void): void },
        done: (err: Error | null, conn: unknown) => void,
      ) => conn.query(`set search_path to ${ident(shadowSchema)}`, (err) => done(err, conn)),
    },
  });
}

/** `analyze` the shadow tables, so the first queries after the swap are planned with statistics. */
export async function analyzeShadowTables(session: Session): Promise<void> {
  await session.query(`analyze ${projectionTables.map(shadow).join(', ')}`);
}

export async function dropShadowSchema(session: Session): Promise<void> {
  await session.query(`drop schema if exists ${ident(shadowSchema)} cascade`);
}

export interface SwapReport {
  /** Messages applied while the live tables were locked (the tail). */
  tail: number;
  /** How long the live consumers' writes waited: the lock against writers was held this long. */
  writersPausedMs: number;
  /** How long history reads waited: the lock against readers (the rename) was held this long. */
  readersPausedMs: number;
}

/** SQLSTATEs of a lock not granted in time or a deadlock: try the lock again. */
const lockNotGranted = (err: unknown) => ['55P03', '40P01'].includes((err as { code?: string }).code ?? '');

/**
 * Takes `lockSql` with a short `lock_timeout` and tries again after a pause when it is not granted
 * (a savepoint keeps the locks taken before). Short waits matter: while this waits, every later
 * request of those tables queues behind it.
 */
async function lockPatiently(session: Session, lockSql: string, what: string): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    await session.query('savepoint take_lock');
    try {
      await session.query(`set local lock_timeout = '250ms'`);
      await session.query(lockSql);
      await session.query('release savepoint take_lock');
      return;
    } catch (err) {
      if (!lockNotGranted(err) || attempt >= 40)
        throw new Error(`could not lock the live tables against ${what}: ${String(err)}`);
      await session.query('rollback to savepoint take_lock');
      await new Promise((resolve) => setTimeout(resolve, 50 * Math.min(attempt, 10)));
    }
  }
}

/**
 * Makes the shadow tables the live ones, in one transaction on `session`: lock the live tables
 * against writers (the live consumers wait; history reads go on), `applyTail` (the messages
 * stored since the replay read the streams' ends, written to the shadow tables), then lock them
 * against readers too, carry over their owner and grants, drop them and move the shadow tables
 * into their schema. Anything failing rolls back: the live tables stay as they were.
 */
export async function swapShadowTables(session: Session, live: string, applyTail: () => Promise<number>): Promise<SwapReport> {
  const liveTables = lockOrder.map((t) => `${ident(live)}.${ident(t)}`).join(', ');
  await session.query('begin');
  try {
    await lockPatiently(session, `lock table ${liveTables} in exclusive mode`, 'writers');
    const writersPaused = performance.now();
    const tail = await applyTail();
    const { rows: grants } = await session.query(
      `select format('alter table %s owner to %I', $3::text || '.' || quote_ident(c.relname), pg_get_userbyid(c.relowner)) as sql
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = $1 and c.relname = any($2) and c.relowner <> (select oid from pg_roles where rolname = current_user)
      union all
      select format('grant %s on table %s to %s%s', a.privilege_type, $3::text || '.' || quote_ident(c.relname),
          case when a.grantee = 0 then 'public' else quote_ident(pg_get_userbyid(a.grantee)) end,
          case when a.is_grantable then ' with grant option' else '' end)
        from pg_class c join pg_namespace n on n.oid = c.relnamespace cross join lateral aclexplode(c.relacl) a
        where n.nspname = $1 and c.relname = any($2) and a.grantee <> c.relowner
      union all
      select format('grant %s (%I) on table %s to %s%s', a.privilege_type, t.attname, $3::text || '.' || quote_ident(c.relname),
          case when a.grantee = 0 then 'public' else quote_ident(pg_get_userbyid(a.grantee)) end,
          case when a.is_grantable then ' with grant option' else '' end)
        from pg_attribute t join pg_class c on c.oid = t.attrelid join pg_namespace n on n.oid = c.relnamespace
          cross join lateral aclexplode(t.attacl) a
        where n.nspname = $1 and c.relname = any($2) and t.attacl is not null and not t.attisdropped and a.grantee <> c.relowner`,
      [live, projectionTables, ident(shadowSchema)],
    );
    for (const g of grants) await session.query(g.sql as string);
    await lockPatiently(session, `lock table ${liveTables} in access exclusive mode`, 'readers');
    const readersPaused = performance.now();
    await session.query(`drop table ${liveTables}`);
    for (const t of projectionTables) await session.query(`alter table ${shadow(t)} set schema ${ident(live)}`);
    await session.query(`drop schema ${ident(shadowSchema)}`);
    await session.query('commit');
    const now = performance.now();
    return { tail, writersPausedMs: Math.round(now - writersPaused), readersPausedMs: Math.round(now - readersPaused) };
  } catch (err) {
    await session.query('rollback').catch(() => undefined);
    throw err;
  }
}
