import { decodeWith, type Bus } from '@patchflow/bus';
import { WorkflowEvent, WorkItem } from '@patchflow/contracts';
import type { Logger } from '@patchflow/log';
import { projectionTables } from './entities/index.js';
import type { ActionLogOrm } from './orm.js';
import { Projection } from './projection.js';

export interface RebuildProgress {
  stream: string;
  done: number;
  total: number;
}

export interface RebuildReport {
  work: number;
  events: number;
  invalid: number;
}

/**
 * Empties the projection and replays both streams from their first message with ordered
 * (ephemeral) consumers. Safe while the service runs: its durable consumers keep applying new
 * messages, and since every write is idempotent and order-independent, a message applied by both
 * the replay and the live consumer is stored once.
 */
export async function rebuildActionLog(options: {
  orm: ActionLogOrm;
  bus: Bus;
  logger: Logger;
  /** Drop the tables and re-create them with the migrations instead of truncating them. */
  dropTables?: boolean;
  onProgress?: (p: RebuildProgress) => void;
}): Promise<RebuildReport> {
  const { orm, bus, logger, onProgress } = options;
  const projection = new Projection(orm);
  if (options.dropTables) {
    await orm.getMigrator().down({ to: 0 });
    await orm.getMigrator().up();
    logger.info('projection tables dropped and re-created');
  } else {
    await orm.em
      .fork()
      .getConnection()
      .execute(`truncate table ${projectionTables.map((t) => `"${t}"`).join(', ')}`);
    logger.info('projection tables emptied');
  }
  const report: RebuildReport = { work: 0, events: 0, invalid: 0 };
  const streams = bus.topology.streams;
  report.work = await replay(bus, streams.work.name, onProgress, async (data, seq) => {
    const item = tryDecode(() => decodeWith(WorkItem, data, 'work item'));
    if (item) await projection.applyWork(item, seq);
    else report.invalid += 1;
  });
  report.events = await replay(bus, streams.workflowEvents.name, onProgress, async (data, seq) => {
    const event = tryDecode(() => decodeWith(WorkflowEvent, data, 'workflow event'));
    if (event) await projection.applyEvent(event, seq);
    else report.invalid += 1;
  });
  logger.info(report, 'projection rebuilt');
  return report;
}

function tryDecode<T>(decode: () => T): T | undefined {
  try {
    return decode();
  } catch {
    // The live consumer terminates the same message; the replay skips it and counts it.
    return undefined;
  }
}

/** Feeds every message of `stream` up to its last sequence at the start, in order. */
function replay(
  bus: Bus,
  stream: string,
  onProgress: ((p: RebuildProgress) => void) | undefined,
  apply: (data: Uint8Array, seq: number) => Promise<void>,
): Promise<number> {
  return bus.replay(stream, (m) => apply(m.data, m.seq), (done, total) => onProgress?.({ stream, done, total }));
}
