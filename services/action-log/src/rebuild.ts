import type { z } from 'zod';
import type { Bus } from '@patchflow/bus';
import { ContractError, WorkflowEvent, WorkItem } from '@patchflow/contracts';
import type { Logger } from '@patchflow/log';
import type { ActionLogOrm } from './orm.js';
import { ParkedMessages } from './parked-messages.js';
import { PoisonGuard } from './poison-guard.js';
import { defaultPoisonPolicy, poisonPolicy, type PoisonPolicy } from './poison-policy.js';
import { errorLabel } from './poison-policy.js';
import { Projection, type ProjectionInput } from './projection.js';
import {
  analyzeShadowTables,
  createShadowTables,
  dropShadowSchema,
  liveSchemaOf,
  openShadowOrm,
  shadowSchema,
  swapShadowTables,
  withSession,
  type SwapReport,
} from './shadow-tables.js';

/** Messages per transaction of the replay (a few MB of SQL parameters at most). */
const REPLAY_BATCH = 2000;
/** Transactions of the replay at once: Postgres writes one chunk while the next is checked and bound. */
const REPLAY_WRITERS = 2;
/**
 * Catch-up passes before the swap (what was stored while the previous pass ran), until one reads
 * fewer than SMALL_TAIL messages: the tail, applied while the live consumers wait, stays that small
 * unless messages arrive faster than the replay applies them.
 */
const CATCH_UP_PASSES = 10;
const SMALL_TAIL = 100;

interface ReplayedMessage {
  seq: number;
  subject: string;
  data: Uint8Array;
  /** The body parsed as JSON, or `notJson`. */
  value: unknown;
}

export interface RebuildProgress {
  stream: string;
  done: number;
  total: number;
}

export interface RebuildReport {
  work: number;
  events: number;
  /** Messages that fail the contract (parked). */
  invalid: number;
  /** Every message parked by this rebuild, the invalid ones included. */
  parked: number;
  /** Messages parked before that applied this time (their `parked_message` rows are gone). */
  released: number;
  /** The swap of the rebuilt tables for the live ones (not with `dropTables`). */
  swap?: SwapReport & {
    /** Messages stored while the replay ran, applied before the swap's lock (no one waits for them). */
    caughtUp: number;
  };
}

/**
 * Replays both streams from their first message with ordered (ephemeral) consumers into shadow
 * tables made like the live ones (shadow-tables.ts), then swaps them in: the history keeps
 * answering from the live tables until the rebuilt ones replace them in one short transaction.
 * The service's durable consumers keep applying new messages to the live tables meanwhile; the
 * swap locks those against writers, replays what was stored since the replay's end into the
 * shadow tables (the tail), and renames. Every write is idempotent and order-independent, so a
 * message applied by both the replay and the live consumer is stored once, and one a live
 * consumer was about to write when the lock came is written to the new tables after it.
 *
 * `dropTables` instead drops every table (`parked_message` too) and re-creates them with the
 * migrations, then replays into them: the history is partial until the replay has passed it.
 *
 * A message that cannot be applied is handled like the live consumers do (poison-guard.ts), with
 * the retries made in place: parked, and the replay goes on. `parked_message` is kept (it is the
 * operators' record, not part of the projection; the rebuild parks into the live one); a parked
 * message that applies now — the bug was fixed — leaves it. If Postgres cannot even take a parked
 * message, the rebuild stops with that error, and the live tables stay as they were.
 *
 * One rebuild per database at a time (an advisory lock; a second one is refused).
 */
export async function rebuildActionLog(options: {
  orm: ActionLogOrm;
  bus: Bus;
  logger: Logger;
  /** Drop the tables and re-create them with the migrations instead of rebuilding beside them. */
  dropTables?: boolean;
  /** Attempts per message and the delay between them (default: the service's defaults). */
  poisonPolicy?: PoisonPolicy;
  onProgress?: (p: RebuildProgress) => void;
}): Promise<RebuildReport> {
  const { orm, logger } = options;
  return withSession(orm, async (session) => {
    const { rows } = await session.query(`select pg_try_advisory_lock(hashtext($1)) as ok`, [rebuildLock]);
    if (rows[0]?.ok !== true)
      throw new Error('another rebuild of the action-log is running on this database; wait for it to finish');
    try {
      if (options.dropTables) {
        await orm.getMigrator().down({ to: 0 });
        await orm.getMigrator().up();
        logger.info('tables dropped and re-created');
        const report = await replayAll(options, orm);
        logger.info(report, 'projection rebuilt');
        return report;
      }
      const live = await liveSchemaOf(session);
      await createShadowTables(session, live);
      logger.info({ schema: shadowSchema }, 'shadow tables created');
      const shadowOrm = await openShadowOrm(orm, 2 * REPLAY_WRITERS);
      try {
        const report = await replayAll(options, shadowOrm, async (readOn) => {
          await analyzeShadowTables(session);
          // Under steady traffic each pass is shorter than the one before; the last one's rest is the tail.
          let caughtUp = 0;
          for (let pass = 1; pass <= CATCH_UP_PASSES; pass += 1) {
            const read = await readOn();
            caughtUp += read;
            if (read < SMALL_TAIL) break;
          }
          const swap = await swapShadowTables(session, live, readOn);
          return { ...swap, caughtUp };
        });
        logger.info(report, 'projection rebuilt and swapped in');
        return report;
      } catch (err) {
        await dropShadowSchema(session).catch(() => undefined);
        throw err;
      } finally {
        await shadowOrm.close();
      }
    } finally {
      await session.query(`select pg_advisory_unlock(hashtext($1))`, [rebuildLock]).catch(() => undefined);
    }
  });
}

/** The advisory lock a rebuild holds (hashed to its key). */
const rebuildLock = 'patchflow action-log rebuild';

/**
 * The replay itself, written through `target` (the shadow ORM, or the live one with
 * `dropTables`). With `finish`, after the full replay: each call of its `readOn` replays what
 * was stored since the previous read stopped (catch-up passes, then the tail inside the swap's
 * lock).
 */
async function replayAll(
  options: Parameters<typeof rebuildActionLog>[0],
  target: ActionLogOrm,
  finish?: (readOn: () => Promise<number>) => Promise<NonNullable<RebuildReport['swap']>>,
): Promise<RebuildReport> {
  const { orm, bus, logger, onProgress } = options;
  const projection = new Projection(target);
  const parked = new ParkedMessages(orm);
  const guard = new PoisonGuard(parked, poisonPolicy(options.poisonPolicy ?? defaultPoisonPolicy), logger);
  const report: RebuildReport = { work: 0, events: 0, invalid: 0, parked: 0, released: 0 };
  const streams = bus.topology.streams;

  /**
   * One message the way the live consumers handle it, with the retries made in place: applied
   * (each attempt its own transaction), or parked; the replay goes on either way.
   */
  async function replayOne<S extends z.ZodType>(
    stream: string,
    m: ReplayedMessage,
    schema: S,
    what: string,
    toInput: (value: z.infer<S>, seq: number) => ProjectionInput,
    parkedBefore: Set<number>,
  ): Promise<void> {
    const base = { stream, streamSeq: m.seq, subject: m.subject, consumer: 'rebuild', data: async () => m.data };
    for (let delivery = 1; ; delivery += 1) {
      const outcome =
        m.value === notJson
          ? await guard.park(
              { ...base, deliveries: 1 },
              'invalid',
              ContractError.validation([{ path: '(message)', message: 'body is not valid JSON' }], what).message,
              'validation_failed',
            )
          : await guard.handle({ ...base, deliveries: delivery, value: m.value }, schema, what, (v) =>
              projection.applyBatch([toInput(v, m.seq)]),
            );
      if (outcome.kind === 'applied') {
        await released(stream, m.seq, parkedBefore);
        return;
      }
      if (outcome.kind === 'parked') {
        report.parked += 1;
        if (outcome.reason === 'invalid') report.invalid += 1;
        return;
      }
      if (outcome.parkFailed) throw new Error(`could not park message ${m.seq} of ${stream}; is Postgres reachable?`);
      await new Promise((resolve) => setTimeout(resolve, outcome.delayMs));
    }
  }

  async function released(stream: string, seq: number, parkedBefore: Set<number>): Promise<void> {
    if (!parkedBefore.has(seq)) return;
    await parked.release(stream, seq);
    report.released += 1;
  }

  /**
   * A batch of the replay: every message that passes its contract in one transaction (set-based,
   * see projection.ts); the rest — and all of them if that transaction fails — one by one as
   * above, so exactly the messages that cannot be applied are parked.
   */
  async function applyChunk<S extends z.ZodType>(
    stream: string,
    chunk: ReplayedMessage[],
    schema: S,
    what: string,
    toInput: (value: z.infer<S>, seq: number) => ProjectionInput,
    parkedBefore: Set<number>,
  ): Promise<void> {
    const valid: { m: ReplayedMessage; input: ProjectionInput }[] = [];
    const others: ReplayedMessage[] = [];
    for (const m of chunk) {
      const parsed = m.value === notJson ? undefined : schema.safeParse(m.value);
      if (parsed?.success) valid.push({ m, input: toInput(parsed.data, m.seq) });
      else others.push(m);
    }
    let batchApplied = false;
    if (valid.length > 0) {
      try {
        await projection.applyBatch(valid.map((v) => v.input));
        batchApplied = true;
      } catch (err) {
        if (valid.length === 1) others.push(valid[0]!.m);
        else
          logger.warn(
            { stream, messages: valid.length, error: errorLabel(err) },
            'a replay batch failed; applying its messages one by one',
          );
      }
    }
    if (batchApplied) {
      for (const v of valid) await released(stream, v.m.seq, parkedBefore);
    } else if (valid.length > 1) {
      others.push(...valid.map((v) => v.m));
    }
    others.sort((a, b) => a.seq - b.seq);
    for (const m of others) await replayOne(stream, m, schema, what, toInput, parkedBefore);
  }

  /**
   * One stream into the projection, from its first message (with progress), or from `fromSeq`
   * (a catch-up or the tail: no progress), up to the last message stored when the read began.
   * Returns how many messages it read and the sequence of the last one (`fromSeq - 1` if none).
   */
  async function replayStream<S extends z.ZodType>(
    stream: string,
    schema: S,
    what: string,
    toInput: (value: z.infer<S>, seq: number) => ProjectionInput,
    fromSeq?: number,
  ): Promise<{ count: number; lastSeq: number }> {
    const parkedBefore = await parked.sequences(stream);
    // Up to REPLAY_WRITERS chunks are written at once while the next is read from the stream.
    let chunk: ReplayedMessage[] = [];
    const writing = new Set<Promise<void>>();
    let failure: { error: unknown } | undefined;
    let applied = 0;
    let total = 0;
    let lastSeq = (fromSeq ?? 1) - 1;
    const flush = async () => {
      const full = chunk;
      chunk = [];
      while (writing.size >= REPLAY_WRITERS) await Promise.race(writing);
      if (failure) throw failure.error;
      const w: Promise<void> = applyChunk(stream, full, schema, what, toInput, parkedBefore).then(
        () => {
          applied += full.length;
          if (fromSeq === undefined) onProgress?.({ stream, done: applied, total });
        },
        (error: unknown) => {
          failure ??= { error };
        },
      );
      writing.add(w);
      void w.finally(() => writing.delete(w));
    };
    const take = async (m: { seq: number; subject: string; data: Uint8Array }) => {
      chunk.push({ seq: m.seq, subject: m.subject, data: m.data, value: parseJson(m.data) });
      lastSeq = m.seq;
      if (chunk.length >= REPLAY_BATCH) await flush();
    };
    let count = 0;
    if (fromSeq === undefined) {
      count = await bus.replay(stream, take, (_done, streamTotal) => {
        total = streamTotal;
        if (streamTotal === 0) onProgress?.({ stream, done: 0, total: 0 });
      });
    } else {
      for await (const m of bus.admin.readRange(stream, { fromSeq })) {
        await take(m);
        count += 1;
      }
    }
    if (chunk.length > 0) await flush();
    await Promise.all(writing);
    if (failure) throw failure.error;
    return { count, lastSeq };
  }

  const work = (fromSeq?: number) =>
    replayStream(streams.work.name, WorkItem, 'work item', (item, streamSeq) => ({ kind: 'work', item, streamSeq }), fromSeq);
  const events = (fromSeq?: number) =>
    replayStream(
      streams.workflowEvents.name,
      WorkflowEvent,
      'workflow event',
      (event, streamSeq) => ({ kind: 'event', event, streamSeq }),
      fromSeq,
    );
  const read = { work: await work(), events: await events() };
  report.work = read.work.count;
  report.events = read.events.count;
  if (finish) {
    // Both streams again (at once) from where the previous read of each stopped: what was stored meanwhile.
    const readOn = async () => {
      [read.work, read.events] = await Promise.all([work(read.work.lastSeq + 1), events(read.events.lastSeq + 1)]);
      report.work += read.work.count;
      report.events += read.events.count;
      return read.work.count + read.events.count;
    };
    report.swap = await finish(readOn);
  }
  return report;
}

const notJson = Symbol('not JSON');
const decoder = new TextDecoder();

function parseJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(decoder.decode(data));
  } catch {
    return notJson;
  }
}
