/**
 * The rebuild replays into shadow tables and swaps them in (src/rebuild.ts, src/shadow-tables.ts):
 * the history keeps serving while it runs, messages published meanwhile all end up in the result,
 * the swap keeps the migrated schema (names, grants), two in a row agree, a rebuild killed midway
 * leaves the live tables alone, and a second rebuild at the same time is refused.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bus } from '@patchflow/bus';
import { actionLogEndpoints, workflowsFor, type ActionLogHistoryResult, type WorkItem } from '@patchflow/contracts';
import { createLogger } from '@patchflow/log';
import {
  connectTestBus,
  createTestDatabase,
  deleteNamespaceStreams,
  repoRoot,
  testLogLevel,
  testNatsUrl,
  testPool,
  uniqueNamespace,
  uniqueSuffix,
  waitFor,
  type TestDatabase,
} from '@patchflow/testing';
import { openActionLogOrm, rebuildActionLog, startActionLog, type ActionLogOrm, type RunningActionLog } from '../src/index.js';
import { execution, step, workItem } from './fixtures.js';

let db: TestDatabase;
let bus: Bus;
let service: RunningActionLog;
/** The rebuild's own ORM, as patchctl opens it (another process in production). */
let rebuildOrm: ActionLogOrm;
let sql: ReturnType<typeof testPool>;
const reader = `alog_reader_${uniqueSuffix()}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
const logger = createLogger('rebuild-swap-test', testLogLevel);

beforeAll(async () => {
  db = await createTestDatabase('action_log_rebuild_swap');
  const namespace = uniqueNamespace('alogswap');
  bus = await connectTestBus(namespace);
  service = await startActionLog({ databaseUrl: db.url, natsUrl: testNatsUrl(), namespace, logLevel: testLogLevel });
  rebuildOrm = await openActionLogOrm(db.url, logger);
  sql = testPool(db.url, 3);
});

afterAll(async () => {
  await service?.stop();
  await rebuildOrm?.close();
  await sql?.end();
  if (bus) {
    await deleteNamespaceStreams(bus);
    await bus.drain();
  }
  await db?.drop();
  // The role's only privileges were in that database: it can go now.
  const server = testPool(db.url.replace(/\/[^/]*$/, '/postgres'), 1);
  await server.query(`drop role if exists ${reader}`).finally(() => server.end());
});

/** A work item and, per routed workflow, `running`, a step and `succeeded`: 10 messages for markActive. */
function itemMessages(
  patchId: string,
  version: number,
): { item: WorkItem; stepIds: string[]; publish: (() => Promise<unknown>)[] } {
  const item = workItem(patchId, 'markActive', 'draft', 'active', version);
  const stepIds: string[] = [];
  const publish: (() => Promise<unknown>)[] = [
    () => bus.publish(bus.topology.work(item.transition.action), item, { msgId: item.workId }),
  ];
  for (const workflow of workflowsFor('markActive')) {
    const s = step(item, workflow, 'doIt');
    stepIds.push(s.eventId);
    publish.push(
      () => bus.publish(bus.topology.execution(workflow), execution(item, workflow, 'running')),
      () => bus.publish(bus.topology.step(workflow), s),
      () => bus.publish(bus.topology.execution(workflow), execution(item, workflow, 'succeeded')),
    );
  }
  return { item, stepIds, publish };
}

/** Publishes with up to 64 in flight. */
async function publishAll(publish: (() => Promise<unknown>)[]): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < publish.length) await publish[next++]!();
    }),
  );
}

/** A patch's whole history, every page. */
async function fullHistory(patchId: string): Promise<ActionLogHistoryResult['entries']> {
  const entries: ActionLogHistoryResult['entries'] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await bus.call(actionLogEndpoints.history, { patchId, limit: 200, ...(cursor ? { cursor } : {}) });
    entries.push(...page.entries);
    if (page.nextCursor === null) return entries;
    cursor = page.nextCursor;
  }
}

/** Every message both durable consumers received is settled. */
async function idle(): Promise<void> {
  const defs = bus.topology.actionLogConsumers();
  await waitFor(
    async () => {
      for (const def of [defs.work, defs.events]) {
        const info = await bus.admin.consumerInfo(def.stream, def.durableName);
        if (info.pending > 0 || info.ackPending > 0) return false;
      }
      return true;
    },
    { what: 'the durable consumers to be idle', timeoutMs: 60_000 },
  );
}

async function dump(): Promise<Record<string, unknown[]>> {
  const keys: Record<string, string> = {
    action_log_work: 'work_id',
    action_log_execution: 'work_id, workflow',
    action_log_execution_event: 'event_id',
    action_log_step: 'event_id',
  };
  const out: Record<string, unknown[]> = {};
  for (const [table, key] of Object.entries(keys)) out[table] = (await sql.query(`select * from ${table} order by ${key}`)).rows;
  return out;
}

/** Names and definitions of the live tables' indexes and constraints, their owners and grants. */
async function schemaFacts(): Promise<unknown> {
  const tables = ['action_log_work', 'action_log_execution', 'action_log_execution_event', 'action_log_step'];
  const indexes = await sql.query(
    `select tablename, indexname, indexdef from pg_indexes where schemaname = 'public' and tablename = any($1) order by indexname`,
    [tables],
  );
  const constraints = await sql.query(
    `select conrelid::regclass::text as t, conname, pg_get_constraintdef(oid) as def from pg_constraint
      where conrelid = any(select oid from pg_class where relname = any($1) and relnamespace = 'public'::regnamespace) order by conname`,
    [tables],
  );
  const acl = await sql.query(
    `select relname, pg_get_userbyid(relowner) as owner, relacl::text as acl from pg_class
      where relname = any($1) and relnamespace = 'public'::regnamespace order by relname`,
    [tables],
  );
  const triggers = await sql.query(
    `select tgname, pg_get_triggerdef(oid) as def from pg_trigger
      where not tgisinternal and tgrelid = any(select oid from pg_class where relname = any($1) and relnamespace = 'public'::regnamespace)`,
    [tables],
  );
  return { indexes: indexes.rows, constraints: constraints.rows, acl: acl.rows, triggers: triggers.rows };
}

const liveOids = async () =>
  (
    await sql.query(
      `select relname, oid::text from pg_class where relnamespace = 'public'::regnamespace and relname like 'action_log_%' and relkind = 'r' order by relname`,
    )
  ).rows;
const shadowSchemaExists = async () =>
  (await sql.query(`select 1 from pg_namespace where nspname = 'action_log_rebuild'`)).rowCount === 1;

const patches = Array.from({ length: 30 }, () => randomUUID());
/** Every work item and step published so far, by patch. */
const published = new Map<string, { workIds: string[]; stepIds: string[] }>();
let version = 1;

function addItems(patchIds: string[]): (() => Promise<unknown>)[] {
  version += 1;
  return patchIds.flatMap((patchId) => {
    const m = itemMessages(patchId, version);
    const seen = published.get(patchId) ?? { workIds: [], stepIds: [] };
    seen.workIds.push(m.item.workId);
    seen.stepIds.push(...m.stepIds);
    published.set(patchId, seen);
    return m.publish;
  });
}

describe('rebuild into shadow tables', () => {
  it('keeps every history whole while it runs, and the messages published meanwhile are all in the result', async () => {
    // 30 patches × 10 transitions × 10 messages = 3,000 messages.
    for (let i = 0; i < 10; i++) await publishAll(addItems(patches));
    await idle();

    // Readers: the histories of six patches, over and over through the service's endpoint.
    const watched = patches.slice(0, 6);
    type Seen = { works: Set<string>; steps: Set<string>; succeeded: Set<string> };
    const last = new Map<string, Seen>();
    const problems: string[] = [];
    let rebuilding = true;
    let pollsDuringRebuild = 0;
    const snapshot = (entries: ActionLogHistoryResult['entries']): Seen => ({
      works: new Set(entries.map((e) => e.workId)),
      steps: new Set(entries.flatMap((e) => e.executions.flatMap((x) => x.steps.map((s) => s.eventId)))),
      succeeded: new Set(
        entries.flatMap((e) => e.executions.filter((x) => x.status === 'succeeded').map((x) => `${e.workId}/${x.workflow}`)),
      ),
    });
    for (const patchId of watched) last.set(patchId, snapshot(await fullHistory(patchId)));
    // One loop per patch, each comparing every answer with the one before (the first: before the rebuild).
    const readers = Promise.all(
      watched.map(async (patchId) => {
        while (rebuilding) {
          const started = rebuilding;
          const now = snapshot(await fullHistory(patchId));
          const before = last.get(patchId)!;
          for (const key of ['works', 'steps', 'succeeded'] as const) {
            const lost = [...before[key]].filter((id) => !now[key].has(id));
            if (lost.length > 0) problems.push(`${patchId}: ${lost.length} of ${before[key].size} ${key} vanished`);
          }
          last.set(patchId, now);
          if (started && rebuilding) pollsDuringRebuild += 1;
        }
      }),
    );
    // Writers: new transitions on the watched patches and others, until the rebuild is over.
    const writers = (async () => {
      // Steady traffic (60 messages a round, a short pause between rounds), not a flood.
      while (rebuilding) {
        await publishAll(addItems([...watched.slice(0, 3), ...patches.slice(20, 23)]));
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    })();

    const report = await rebuildActionLog({ orm: rebuildOrm, bus, logger }).finally(() => {
      rebuilding = false;
    });
    await Promise.all([readers, writers]);
    expect(problems).toEqual([]);
    expect(pollsDuringRebuild).toBeGreaterThan(0);
    expect(report).toMatchObject({ invalid: 0, parked: 0, released: 0, swap: { tail: expect.any(Number) } });
    expect(report.work).toBeGreaterThanOrEqual(300);
    expect(report.events).toBeGreaterThanOrEqual(2700);
    expect(await shadowSchemaExists()).toBe(false);

    // Everything published, before and during the rebuild, is in the history with its steps.
    await idle();
    for (const [patchId, want] of published) {
      const got = snapshot(await fullHistory(patchId));
      expect([...got.works].sort(), patchId).toEqual([...want.workIds].sort());
      expect([...got.steps].sort(), patchId).toEqual([...want.stepIds].sort());
      expect(got.succeeded.size, patchId).toBe(want.workIds.length * 3);
    }
  });

  it('twice in a row gives the same tables and keeps the migrated schema: index and key names, owner, grants, triggers', async () => {
    await idle();
    await sql.query(`create role ${reader} nologin`);
    await sql.query(`grant select on action_log_work to ${reader}`);
    await sql.query(`grant select (patch_id, status) on action_log_execution to ${reader}`);
    // An operator's trigger (a no-op) is carried over like the indexes.
    await sql.query(`create function test_touch() returns trigger language plpgsql as 'begin return new; end'`);
    await sql.query(`create trigger test_touch before insert on action_log_work for each row execute function test_touch()`);
    const facts = await schemaFacts();
    expect(facts).toMatchObject({ triggers: [{ tgname: 'test_touch' }] });
    const before = await dump();
    const oids = await liveOids();

    const first = await rebuildActionLog({ orm: rebuildOrm, bus, logger });
    const second = await rebuildActionLog({ orm: rebuildOrm, bus, logger });
    expect(second).toMatchObject({ work: first.work, events: first.events, swap: { tail: 0, caughtUp: 0 } });
    expect(await dump()).toEqual(before);
    expect(await schemaFacts()).toEqual(facts);
    // New tables (the old ones were dropped), made exactly like the entities and migrations say.
    expect(await liveOids()).not.toEqual(oids);
    expect((await service.orm.schema.getUpdateSchemaSQL({ wrap: false, safe: false, dropTables: true })).trim()).toBe('');
    const privileges = await sql.query(
      `select has_table_privilege($1, 'action_log_work', 'select') as work,
        has_column_privilege($1, 'action_log_execution', 'status', 'select') as status,
        has_column_privilege($1, 'action_log_execution', 'last_error', 'select') as last_error,
        has_table_privilege($1, 'action_log_step', 'select') as step`,
      [reader],
    );
    expect(privileges.rows[0]).toEqual({ work: true, status: true, last_error: false, step: false });
    // The service serves from the new tables and keeps consuming into them.
    const more = itemMessages(patches[0]!, 1000);
    await publishAll(more.publish);
    await idle();
    expect((await fullHistory(patches[0]!)).map((e) => e.workId)).toContain(more.item.workId);
  });

  it('refuses a second rebuild while one runs; the first one finishes', async () => {
    await idle();
    const before = await dump();
    let second: Promise<unknown> | undefined;
    const first = await rebuildActionLog({
      orm: rebuildOrm,
      bus,
      logger,
      onProgress: () => {
        second ??= rebuildActionLog({ orm: service.orm, bus, logger }).then(
          () => 'ran',
          (err: unknown) => (err as Error).message,
        );
      },
    });
    expect(await second).toBe('another rebuild of the action-log is running on this database; wait for it to finish');
    expect(first.swap).toBeDefined();
    expect(await dump()).toEqual(before);
  });

  it('killed midway leaves the live tables serving as they were; the next rebuild works', async () => {
    await idle();
    const before = await dump();
    const oids = await liveOids();
    const history = await fullHistory(patches[1]!);

    // patchctl's own process (its bin would start it as a child, which a kill of the bin leaves running).
    const args = ['--conditions=development', '--import', 'tsx', 'tools/patchctl/src/main.ts', 'rebuild', 'action-log', '--json'];
    const child = spawn(process.execPath, args, {
      cwd: repoRoot,
      env: { ...process.env, ACTION_LOG_DATABASE_URL: db.url, NATS_URL: testNatsUrl(), BUS_NAMESPACE: bus.topology.namespace },
      stdio: 'ignore',
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })),
    );
    // Midway: the replay has written to the shadow tables, the swap has not happened.
    await waitFor(
      async () =>
        (await shadowSchemaExists()) &&
        Number(
          (await sql.query(`select count(*) from action_log_rebuild.action_log_work`).catch(() => ({ rows: [{ count: 0 }] })))
            .rows[0].count,
        ) > 0,
      { what: 'the killed rebuild to have replayed into its shadow tables', intervalMs: 5, timeoutMs: 60_000 },
    );
    child.kill('SIGKILL');
    expect(await exited).toEqual({ code: null, signal: 'SIGKILL' });

    expect(await liveOids()).toEqual(oids);
    expect(await dump()).toEqual(before);
    expect(await fullHistory(patches[1]!)).toEqual(history);
    expect(await shadowSchemaExists()).toBe(true);

    const report = await rebuildActionLog({ orm: rebuildOrm, bus, logger });
    expect(report.swap).toBeDefined();
    expect(await shadowSchemaExists()).toBe(false);
    expect(await dump()).toEqual(before);
  });

  it('failing midway (Postgres refuses to park a message) leaves the live tables as they were and no shadow behind', async () => {
    await idle();
    const before = await dump();
    const oids = await liveOids();
    await sql.query(`create function test_refuse_park() returns trigger language plpgsql as $$
      begin raise exception 'test fault: parking refused' using errcode = '08006'; end $$`);
    await sql.query(
      `create trigger test_refuse_park before insert on parked_message for each row execute function test_refuse_park()`,
    );
    try {
      // At the end of the events stream: the replay has written everything else into the shadow tables.
      const invalid = {
        ...step(workItem(patches[2]!, 'markActive', 'draft', 'active', 2), 'slack', 'notify'),
        eventId: 'not-a-uuid',
      };
      const { seq } = await bus.publish(bus.topology.step('slack'), invalid);
      await expect(rebuildActionLog({ orm: rebuildOrm, bus, logger })).rejects.toThrow(
        `could not park message ${seq} of ${bus.topology.streams.workflowEvents.name}; is Postgres reachable?`,
      );
      expect(await liveOids()).toEqual(oids);
      expect(await dump()).toEqual(before);
      expect(await shadowSchemaExists()).toBe(false);
    } finally {
      await sql.query('drop trigger test_refuse_park on parked_message');
      await sql.query('drop function test_refuse_park()');
    }
    await idle();
    const report = await rebuildActionLog({ orm: rebuildOrm, bus, logger });
    expect(report).toMatchObject({ invalid: 1, parked: 1, swap: { tail: 0 } });
    expect(await dump()).toEqual(before);
  });
});

describe('rebuild as the database owner, not a superuser', () => {
  it('creates its schema, swaps and keeps the owner; without CREATE on the database it says so and changes nothing', async () => {
    const role = `alog_owner_${uniqueSuffix()}`;
    const name = `pf_alog_owned_${uniqueSuffix()}`;
    const server = testPool(db.url.replace(/\/[^/]*$/, '/postgres'), 1);
    await server.query(`create role ${role} login`);
    await server.query(`create database ${name} owner ${role}`);
    const url = new URL(db.url);
    url.username = role;
    url.pathname = `/${name}`;
    const orm = await openActionLogOrm(url.toString(), logger);
    const owned = testPool(url.toString(), 1);
    try {
      const report = await rebuildActionLog({ orm, bus, logger });
      expect(report.swap).toBeDefined();
      const count = async (pool: ReturnType<typeof testPool>) =>
        (await pool.query(`select count(*)::int as n from action_log_step`)).rows[0].n as number;
      await idle();
      expect(await count(owned)).toBe(await count(sql));
      const owner = await owned.query(
        `select pg_get_userbyid(relowner) as owner from pg_class where relname = 'action_log_step'`,
      );
      expect(owner.rows).toEqual([{ owner: role }]);

      // A superuser's revoke acts as the owner's own: the role may no longer create schemas there.
      await server.query(`revoke create on database ${name} from ${role}`);
      const oids = (await owned.query(`select oid::text from pg_class where relname like 'action_log_%' order by relname`)).rows;
      await expect(rebuildActionLog({ orm, bus, logger })).rejects.toThrow(
        /^cannot create the schema action_log_rebuild to rebuild into \(permission denied for database .+\): the action-log's database role needs CREATE on its database/,
      );
      expect(
        (await owned.query(`select oid::text from pg_class where relname like 'action_log_%' order by relname`)).rows,
      ).toEqual(oids);
      expect(await count(owned)).toBe(await count(sql));
    } finally {
      await owned.end();
      await orm.close();
      await server.query(`drop database if exists ${name} with (force)`);
      await server.query(`drop role if exists ${role}`);
      await server.end();
    }
  });
});
