import type { WorkflowName } from '@patchflow/contracts';
import { createLogger, startTracing, type Logger } from '@patchflow/log';
import type { RunningWorkflowService, WorkflowDefinition } from '@patchflow/workflow-runtime';
import { gitlabWorkflow } from '@patchflow/workflow-gitlab';
import { jiraWorkflow } from '@patchflow/workflow-jira';
import { slackWorkflow } from '@patchflow/workflow-slack';
import { successorWorkflow } from '@patchflow/workflow-successor';
import { parseHostEnv } from './env.js';

/** Every workflow the host can run, by name. */
export const workflowDefinitions: Record<WorkflowName, WorkflowDefinition> = {
  successor: successorWorkflow,
  gitlab: gitlabWorkflow,
  jira: jiraWorkflow,
  slack: slackWorkflow,
};

export interface RunningWorkflowHost {
  /** The hosted workflows, in the order of WORKFLOWS. */
  services: ReadonlyMap<WorkflowName, RunningWorkflowService>;
  logger: Logger;
  stop(): Promise<void>;
}

/**
 * Starts the workflows WORKFLOWS names in this process. Each is what it is in its own process —
 * its own NATS connection and credentials, durable consumer, execution rows, retries and dead
 * letters — started from its own environment (env.ts). They share the process: its CPU caches,
 * event loop and heap (the four spent 27–42% less CPU here than four processes,
 * docs/FIELD-NOTES.md), and its fate: a crash restarts all of them, and each redelivers what
 * it had in hand. Every environment is checked before any workflow starts; if one cannot start,
 * the others are stopped and its error is thrown.
 */
export async function startWorkflowHost(env: NodeJS.ProcessEnv = process.env): Promise<RunningWorkflowHost> {
  const { host, environments } = parseHostEnv(env, workflowDefinitions);
  const logger = createLogger('workflows', host.LOG_LEVEL);
  const tracing = await startTracing('workflows', host.OTEL_EXPORTER_OTLP_ENDPOINT);
  // Tracing is the process's (one tracer provider): no workflow starts its own.
  const started = await Promise.allSettled(
    host.WORKFLOWS.map((w) => workflowDefinitions[w].start(environments.get(w)!, { otlpEndpoint: undefined })),
  );
  const failed = started.findIndex((s) => s.status === 'rejected');
  const running = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  if (failed >= 0) {
    await Promise.allSettled(running.map((s) => s.stop()));
    await tracing.stop();
    const err = (started[failed] as PromiseRejectedResult).reason as unknown;
    // Which workflow could not start: its error keeps its class (startOrExit's one line), named.
    if (err instanceof Error) err.message = `workflow-${host.WORKFLOWS[failed]!}: ${err.message}`;
    throw err;
  }
  const services = new Map(host.WORKFLOWS.map((w, i) => [w, running[i]!]));
  logger.info({ workflows: host.WORKFLOWS }, 'workflow host started');
  let stopping: Promise<void> | undefined;
  return {
    services,
    logger,
    stop: () =>
      (stopping ??= (async () => {
        // Every workflow stops, whatever another's stop does; one that fails says so.
        const stopped = await Promise.allSettled(running.map((s) => s.stop()));
        stopped.forEach((r, i) => {
          if (r.status === 'rejected')
            logger.error({ err: r.reason, workflow: host.WORKFLOWS[i] }, 'workflow did not stop cleanly');
        });
        await tracing.stop();
        logger.info('workflow host stopped');
      })()),
  };
}
