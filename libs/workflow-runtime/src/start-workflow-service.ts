import { natsConnection } from '@patchflow/config';
import type { WorkflowName } from '@patchflow/contracts';
import { Bus, type NatsAuth } from '@patchflow/bus';
import { ensureDatabase } from '@patchflow/db';
import { createLogger, startTracing, type Logger, type LogLevel } from '@patchflow/log';
import { retryPolicyFromEnv, type WorkflowEnv } from './env.js';
import { ExecutionStore } from './execution-store.js';
import { RetryPolicy, type RetryPolicyOptions } from './retry-policy.js';
import type { WorkflowHandlers } from './workflow-service.js';
import { WorkflowRuntime } from './workflow-runtime.js';

export interface WorkflowServiceOptions {
  workflow: WorkflowName;
  natsUrl: string;
  /** This service's NATS credentials (see `natsConnection` in @patchflow/config). */
  natsAuth?: NatsAuth;
  namespace?: string;
  /** JetStream replicas of the streams (`STREAM_REPLICAS`, default 1). */
  streamReplicas?: number;
  databaseUrl: string;
  logLevel?: LogLevel;
  /** The retry policy, or overrides of its defaults (validated: a bad one throws before anything starts). */
  retry?: RetryPolicy | Partial<RetryPolicyOptions>;
  concurrency?: number;
  shutdownGraceMs?: number;
  /** See WorkflowRuntimeOptions.runningEventDelayMs. */
  runningEventDelayMs?: number;
  /** OTEL_EXPORTER_OTLP_ENDPOINT: where the executions' spans are exported (none when unset). */
  otlpEndpoint?: string;
}

export interface RunningWorkflowService {
  bus: Bus;
  store: ExecutionStore;
  logger: Logger;
  runtime: WorkflowRuntime;
  stop(): Promise<void>;
}

/** The runtime options of a workflow service, from its parsed environment. */
export function workflowOptionsFromEnv(workflow: WorkflowName, env: WorkflowEnv): WorkflowServiceOptions {
  return {
    workflow,
    natsUrl: env.NATS_URL,
    natsAuth: natsConnection(env).auth,
    streamReplicas: env.STREAM_REPLICAS,
    namespace: env.BUS_NAMESPACE,
    databaseUrl: env.WORKFLOW_DATABASE_URL,
    logLevel: env.LOG_LEVEL,
    retry: retryPolicyFromEnv(env),
    concurrency: env.WORKFLOW_CONCURRENCY,
    shutdownGraceMs: env.WORKFLOW_SHUTDOWN_GRACE_MS,
    runningEventDelayMs: env.WORKFLOW_RUNNING_EVENT_DELAY_MS,
    ...(env.OTEL_EXPORTER_OTLP_ENDPOINT ? { otlpEndpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT } : {}),
  };
}

/**
 * Starts one workflow service: database (created if missing) and its migrations, bus and
 * streams, then the runtime over the handler table `buildHandlers` returns. `stop()` undoes it
 * in reverse: stop consuming (in-flight work finishes or is nak'ed), drain the bus (flushes
 * the last events), close the pool.
 */
export async function startWorkflowService(
  options: WorkflowServiceOptions,
  buildHandlers: (deps: { bus: Bus; logger: Logger }) => WorkflowHandlers,
): Promise<RunningWorkflowService> {
  const retry = options.retry instanceof RetryPolicy ? options.retry : RetryPolicy.of(options.retry);
  const name = `workflow-${options.workflow}` as const;
  const logger = createLogger(name, options.logLevel ?? 'info');
  const tracing = await startTracing(name, options.otlpEndpoint);
  await ensureDatabase(options.databaseUrl);
  const store = await ExecutionStore.open(options.databaseUrl, options.workflow);
  if (store.appliedMigrations.length > 0) logger.info({ migrations: store.appliedMigrations }, 'migrated the workflow database');
  let bus: Bus;
  try {
    bus = await Bus.connect({
      url: options.natsUrl,
      auth: options.natsAuth,
      name,
      service: name,
      namespace: options.namespace ?? '',
      streamReplicas: options.streamReplicas,
      logger,
    });
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
    retry,
    ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
    ...(options.shutdownGraceMs !== undefined ? { shutdownGraceMs: options.shutdownGraceMs } : {}),
    ...(options.runningEventDelayMs !== undefined ? { runningEventDelayMs: options.runningEventDelayMs } : {}),
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
        await tracing.stop();
        logger.info('workflow stopped');
      })()),
  };
}
