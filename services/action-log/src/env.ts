import { z } from 'zod';
import { commonEnv } from '@patchflow/config';

export const actionLogEnv = z.object({
  /** The action-log's own database (never patch-status's); created at start when missing. */
  ACTION_LOG_DATABASE_URL: z.url().default('postgres://root@127.0.0.1:5432/patchflow_action_log'),
  /** NATS with JetStream: the work and workflow-events streams, and the request-reply API. */
  NATS_URL: commonEnv.NATS_URL,
  /** Prefix for every subject and stream; empty in production, unique per test. */
  BUS_NAMESPACE: commonEnv.BUS_NAMESPACE,
  LOG_LEVEL: commonEnv.LOG_LEVEL,
});
export type ActionLogEnv = z.infer<typeof actionLogEnv>;
