import type { WorkflowName } from '@patchflow/contracts';
import { Bus } from '@patchflow/bus';
import { ensureDatabase } from '@patchflow/db';
import { createLogger, type Logger, type LogLevel } from '@patchflow/log';
import type { RetryPolicy } from './backoff.js';
import type { WorkflowEnv } from './env.js';
import { ExecutionStore } from './execution-store.js';
import type { WorkflowHandlers } from './workflow-service.js';
import { WorkflowRuntime } from './workflow-runtime.js';

export interface WorkflowServiceOptions {
  workflow: WorkflowName;
  natsUrl: string;
  namespace?: string;
  databaseUrl: string;
  logLevel?: LogLevel;
  retry?: Partial<RetryPolicy>;
  ackWaitMs?: number;
  concurrency?: number;
  shutdownGraceMs?: number;
}

export interface RunningWorkflowService {
  bus: Bus;
  store: ExecutionStore;
  logger: Logger;
  runtime: WorkflowRuntime;
  stop(): Promise<void>;
}

export const defaultRetryPolicy: RetryPolicy = { baseDelayMs: 500, maxDelayMs: 30_000, maxAttempts: 10 };

/** The runtime options of a workflow service, from its parsed environment. */
export function workflowOptionsFromEnv(workflow: WorkflowName, env: WorkflowEnv): WorkflowServiceOptions {
  return {
    workflow,
    natsUrl: env.NATS_URL,
    namespace: env.BUS_NAMESPACE,
    databaseUrl: env.WORKFLOW_DATABASE_URL,
    logLevel: env.LOG_LEVEL,
    retry: { baseDelayMs: env.WORKFLOW_RETRY_BASE_MS, maxDelayMs: env.WORKFLOW_RETRY_MAX_MS, maxAttempts: env.WORKFLOW_MAX_ATTEMPTS },
    ackWaitMs: env.WORKFLOW_ACK_WAIT_MS,
    concurrency: env.WORKFLOW_CONCURRENCY,
    shutdownGraceMs: env.WORKFLOW_SHUTDOWN_GRACE_MS,
  };
}

/**
 * Starts one workflow service: database (created if missing) and execution tables, bus and
 * streams, then the runtime over the handler table `buildHandlers` returns. `stop()` undoes it
 * in reverse: stop consuming (in-flight work finishes or is nak'ed), drain the bus (flushes
 * the last events), close the pool.
 */
export async function startWorkflowService(
  options: WorkflowServiceOptions,
  buildHandlers: (deps: { bus: Bus; logger: Logger }) => WorkflowHandlers,
): Promise<RunningWorkflowService> {
  const name = `workflow-${options.workflow}`;
  const logger = createLogger(name, options.logLevel ?? 'info');
  await ensureDatabase(options.databaseUrl);
  const store = await ExecutionStore.open(options.databaseUrl, options.workflow);
  let bus: Bus;
  try {
    bus = await Bus.connect({ url: options.natsUrl, name, namespace: options.namespace ?? '', logger });
  } catch (err) {
    await store.close();
    throw err;
  }
  const runtime = await WorkflowRuntime.start({
    bus,
    workflow: options.workflow,
    handlers: buildHandlers({ bus, logger }),
    store,
    logger,
    retry: { ...defaultRetryPolicy, ...options.retry },
    ...(options.ackWaitMs !== undefined ? { ackWaitMs: options.ackWaitMs } : {}),
    ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
    ...(options.shutdownGraceMs !== undefined ? { shutdownGraceMs: options.shutdownGraceMs } : {}),
  });
  let stopping: Promise<void> | undefined;
  return {
    bus,
    store,
    logger,
    runtime,
    stop: () =>
      (stopping ??= (async () => {
        await runtime.stop();
        await bus.drain();
        await store.close();
        logger.info('workflow stopped');
      })()),
  };
}
