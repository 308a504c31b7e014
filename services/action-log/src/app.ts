import { Bus } from '@patchflow/bus';
import { createLogger, type Logger, type LogLevel } from '@patchflow/log';
import { HistoryQueries } from './history-queries.js';
import { startLiveConsumers } from './live-consumers.js';
import { openActionLogOrm, type ActionLogOrm } from './orm.js';
import { Projection } from './projection.js';
import { serveQueries } from './request-handlers.js';

export interface ActionLogOptions {
  databaseUrl: string;
  natsUrl: string;
  namespace: string;
  logLevel?: LogLevel;
  logger?: Logger;
}

export interface RunningActionLog {
  bus: Bus;
  orm: ActionLogOrm;
  stop(): Promise<void>;
}

/** Starts the action-log in this process (main.ts and the tests both use it). */
export async function startActionLog(options: ActionLogOptions): Promise<RunningActionLog> {
  const logger = options.logger ?? createLogger('action-log', options.logLevel ?? 'info');
  const orm = await openActionLogOrm(options.databaseUrl, logger);
  let bus: Bus;
  try {
    bus = await Bus.connect({ url: options.natsUrl, name: 'action-log', namespace: options.namespace, logger });
    await bus.ensureStreams(['work', 'workflowEvents']);
  } catch (err) {
    await orm.close();
    throw err;
  }
  serveQueries(bus, new HistoryQueries(orm));
  const consumers = await startLiveConsumers(bus, new Projection(orm));
  logger.info('action-log started');
  return {
    bus,
    orm,
    // Reverse order of start: stop pulling (in-flight messages settle), stop answering, then
    // close the database the handlers were using.
    async stop() {
      await consumers.stop();
      await bus.drain();
      await orm.close();
      logger.info('action-log stopped');
    },
  };
}
