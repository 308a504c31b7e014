import type { z } from 'zod';
import type { Bus } from '@patchflow/bus';
import { ContractError, WorkflowEvent, WorkItem } from '@patchflow/contracts';
import type { Logger } from '@patchflow/log';
import { projectionTables } from './entities/index.js';
import type { ActionLogOrm } from './orm.js';
import { ParkedMessages } from './parked-messages.js';
import { PoisonGuard } from './poison-guard.js';
import { defaultPoisonPolicy, poisonPolicy, type PoisonPolicy } from './poison-policy.js';
import { errorLabel } from './poison-policy.js';
import { Projection, type ProjectionInput } from './projection.js';

/** Messages per transaction of the replay (a few MB of SQL parameters at most). */
const REPLAY_BATCH = 2000;
/** Transactions of the replay at once: Postgres writes one chunk while the next is checked and bound. */
const REPLAY_WRITERS = 2;

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
}

/**
 * Empties the projection and replays both streams from their first message with ordered
 * (ephemeral) consumers. Safe while the service runs: its durable consumers keep applying new
 * messages, and since every write is idempotent and order-independent, a message applied by both
 * the replay and the live consumer is stored once.
 *
 * A message that cannot be applied is handled like the live consumers do (poison-guard.ts), with
 * the retries made in place: parked, and the replay goes on. `parked_message` is kept (it is the
 * operators' record, not part of the projection); a parked message that applies now — the bug
 * was fixed — leaves it. If Postgres cannot even take a parked message, the rebuild stops with
 * that error.
 */
export async function rebuildActionLog(options: {
  orm: ActionLogOrm;
  bus: Bus;
  logger: Logger;
  /** Drop the tables and re-create them with the migrations instead of truncating them. */
  dropTables?: boolean;
  /** Attempts per message and the delay between them (default: the service's defaults). */
  poisonPolicy?: PoisonPolicy;
  onProgress?: (p: RebuildProgress) => void;
}): Promise<RebuildReport> {
  const { orm, bus, logger, onProgress } = options;
  const projection = new Projection(orm);
  const parked = new ParkedMessages(orm);
  const guard = new PoisonGuard(parked, poisonPolicy(options.poisonPolicy ?? defaultPoisonPolicy), logger);
  if (options.dropTables) {
    await orm.getMigrator().down({ to: 0 });
    await orm.getMigrator().up();
    logger.info('tables dropped and re-created');
  } else {
    await orm.em
      .fork()
      .getConnection()
      .execute(`truncate table ${projectionTables.map((t) => `"${t}"`).join(', ')}`);
    logger.info('projection tables emptied');
  }
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

  async function replayStream<S extends z.ZodType>(
    stream: string,
    schema: S,
    what: string,
    toInput: (value: z.infer<S>, seq: number) => ProjectionInput,
  ): Promise<number> {
    const parkedBefore = await parked.sequences(stream);
    // Up to REPLAY_WRITERS chunks are written at once while the next is read from the stream.
    let chunk: ReplayedMessage[] = [];
    const writing = new Set<Promise<void>>();
    let failure: { error: unknown } | undefined;
    let applied = 0;
    let total = 0;
    const flush = async () => {
      const full = chunk;
      chunk = [];
      while (writing.size >= REPLAY_WRITERS) await Promise.race(writing);
      if (failure) throw failure.error;
      const w: Promise<void> = applyChunk(stream, full, schema, what, toInput, parkedBefore).then(
        () => {
          applied += full.length;
          onProgress?.({ stream, done: applied, total });
        },
        (error: unknown) => {
          failure ??= { error };
        },
      );
      writing.add(w);
      void w.finally(() => writing.delete(w));
    };
    const done = await bus.replay(
      stream,
      async (m) => {
        chunk.push({ seq: m.seq, subject: m.subject, data: m.data, value: parseJson(m.data) });
        if (chunk.length >= REPLAY_BATCH) await flush();
      },
      (_done, streamTotal) => {
        total = streamTotal;
        if (streamTotal === 0) onProgress?.({ stream, done: 0, total: 0 });
      },
    );
    if (chunk.length > 0) await flush();
    await Promise.all(writing);
    if (failure) throw failure.error;
    return done;
  }

  report.work = await replayStream(streams.work.name, WorkItem, 'work item', (item, streamSeq) => ({
    kind: 'work',
    item,
    streamSeq,
  }));
  report.events = await replayStream(streams.workflowEvents.name, WorkflowEvent, 'workflow event', (event, streamSeq) => ({
    kind: 'event',
    event,
    streamSeq,
  }));
  logger.info(report, 'projection rebuilt');
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
