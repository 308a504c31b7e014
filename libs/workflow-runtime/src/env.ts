import { z } from 'zod';
import { commonEnv, envInt } from '@patchflow/config';

/** Environment every workflow service reads; a service adds its external system's variables. */
export const workflowEnv = {
  /** NATS with JetStream. */
  NATS_URL: commonEnv.NATS_URL,
  /** Prefix for every subject and stream; empty in production, unique per test. */
  BUS_NAMESPACE: commonEnv.BUS_NAMESPACE,
  LOG_LEVEL: commonEnv.LOG_LEVEL,
  /** The workflow services' own database (execution records, dead letters); created when missing. */
  WORKFLOW_DATABASE_URL: z.url().default('postgres://root@127.0.0.1:5432/patchflow_workflows'),
  /** Delay before the 2nd attempt after a transient failure; doubles per attempt. */
  WORKFLOW_RETRY_BASE_MS: envInt(1, 600_000).default(500),
  /** Cap of the exponential retry delay. */
  WORKFLOW_RETRY_MAX_MS: envInt(1, 3_600_000).default(30_000),
  /** Attempts before a work item is dead-lettered; at most the consumer's max_deliver (10). */
  WORKFLOW_MAX_ATTEMPTS: envInt(1, 10).default(10),
  /** How long a delivered item may go without a heartbeat before JetStream redelivers it (crashed process). */
  WORKFLOW_ACK_WAIT_MS: envInt(500, 3_600_000).default(30_000),
  /** Work items executed at once by one process. */
  WORKFLOW_CONCURRENCY: envInt(1, 512).default(16),
  /** On SIGTERM, how long in-flight executions may finish before they are aborted and nak'ed. */
  WORKFLOW_SHUTDOWN_GRACE_MS: envInt(0, 600_000).default(10_000),
  /** Timeout of each call to the external system. */
  HTTP_TIMEOUT_MS: envInt(100, 600_000).default(10_000),
};

export type WorkflowEnv = z.infer<z.ZodObject<typeof workflowEnv>>;
