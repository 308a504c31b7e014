import { Bus, type NatsAuth } from '@patchflow/bus';
import { createLogger, type Logger, type LogLevel } from '@patchflow/log';
import { HistoryQueries } from './history-queries.js';
import { startLiveConsumers } from './live-consumers.js';
import { openActionLogOrm, type ActionLogOrm } from './orm.js';
import { ParkedMessages } from './parked-messages.js';
import { PoisonGuard } from './poison-guard.js';
import { defaultPoisonPolicy, poisonPolicy, type PoisonPolicy } from './poison-policy.js';
import { Projection } from './projection.js';
import { serveQueries } from './request-handlers.js';

export interface ActionLogOptions {
  databaseUrl: string;
  natsUrl: string;
  natsAuth?: NatsAuth;
  namespace: string;
  /** JetStream replicas of the streams (`STREAM_REPLICAS`, default 1). */
  streamReplicas?: number;
  logLevel?: LogLevel;
  logger?: Logger;
  /** When a message that fails to apply is parked instead of retried (default: 10 deliveries, 1 s → 30 s). */
  poisonPolicy?: PoisonPolicy;
}

export interface RunningActionLog {
  bus: Bus;
  orm: ActionLogOrm;
  stop(): Promise<void>;
}

/** Starts the action-log in this process (main.ts and the tests both use it). */
export async function startActionLog(options: ActionLogOptions): Promise<RunningActionLog> {
  const logger = options.logger ?? createLogger('action-log', options.logLevel ?? 'info');
  const policy = poisonPolicy(options.poisonPolicy ?? defaultPoisonPolicy);
  const orm = await openActionLogOrm(options.databaseUrl, logger);
  let bus: Bus;
  try {
    bus = await Bus.connect({
      url: options.natsUrl,
      auth: options.natsAuth,
      name: 'action-log',
      service: 'action-log',
      namespace: options.namespace,
      streamReplicas: options.streamReplicas,
      logger,
    });
    await bus.ensureStreams(['work', 'workflowEvents']);
  } catch (err) {
    await orm.close();
    throw err;
  }
  serveQueries(bus, new HistoryQueries(orm));
  const guard = new PoisonGuard(new ParkedMessages(orm), policy, logger);
  const consumers = await startLiveConsumers(bus, new Projection(orm), guard);
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
