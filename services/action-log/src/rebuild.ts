import type { z } from 'zod';
import type { Bus } from '@patchflow/bus';
import { ContractError, WorkflowEvent, WorkItem } from '@patchflow/contracts';
import type { Logger } from '@patchflow/log';
import { projectionTables } from './entities/index.js';
import type { ActionLogOrm } from './orm.js';
import { ParkedMessages } from './parked-messages.js';
import { PoisonGuard } from './poison-guard.js';
import { defaultPoisonPolicy, poisonPolicy, type PoisonPolicy } from './poison-policy.js';
import { Projection, type ProjectionChange } from './projection.js';

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

  async function replayStream<S extends z.ZodType>(
    stream: string,
    schema: S,
    what: string,
    apply: (value: z.infer<S>, seq: number) => Promise<ProjectionChange | undefined>,
  ): Promise<number> {
    const parkedBefore = await parked.sequences(stream);
    return bus.replay(
      stream,
      async (m) => {
        const base = { stream, streamSeq: m.seq, subject: m.subject, consumer: 'rebuild', data: async () => m.data };
        const value = parseJson(m.data);
        for (let delivery = 1; ; delivery += 1) {
          const outcome =
            value === notJson
              ? await guard.park(
                  { ...base, deliveries: 1 },
                  'invalid',
                  ContractError.validation([{ path: '(message)', message: 'body is not valid JSON' }], what).message,
                  'validation_failed',
                )
              : await guard.handle({ ...base, deliveries: delivery, value }, schema, what, (v) => apply(v, m.seq));
          if (outcome.kind === 'applied') {
            if (parkedBefore.has(m.seq)) {
              await parked.release(stream, m.seq);
              report.released += 1;
            }
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
      },
      (done, total) => onProgress?.({ stream, done, total }),
    );
  }

  report.work = await replayStream(streams.work.name, WorkItem, 'work item', (item, seq) => projection.applyWork(item, seq));
  report.events = await replayStream(streams.workflowEvents.name, WorkflowEvent, 'workflow event', (event, seq) =>
    projection.applyEvent(event, seq),
  );
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
