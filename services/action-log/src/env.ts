import { z } from 'zod';
import { commonEnv, envInt, natsEnv } from '@patchflow/config';
import { poisonPolicy, type PoisonPolicy } from './poison-policy.js';

export const actionLogEnv = z.object({
  /** The action-log's own database (never patch-status's); created at start when missing. */
  ACTION_LOG_DATABASE_URL: z.url().default('postgres://root@127.0.0.1:5432/patchflow_action_log'),
  ...natsEnv,
  /** Prefix for every subject and stream; empty in production, unique per test. */
  BUS_NAMESPACE: commonEnv.BUS_NAMESPACE,
  LOG_LEVEL: commonEnv.LOG_LEVEL,
  /**
   * Deliveries of a message that keeps failing to apply (a bug, a deadlock) before it is parked
   * in `parked_message`. A contract violation or a data/integrity error (SQLSTATE 22xxx, 23xxx)
   * is parked at once; Postgres being unreachable never counts. 10 deliveries with the default
   * backoff take about 2.5 minutes.
   */
  ACTION_LOG_MAX_DELIVERIES: envInt(1, 1000).default(10),
  /** Delay before the 2nd delivery of a message that failed to apply; doubles per delivery. */
  ACTION_LOG_RETRY_BASE_MS: envInt(1, 600_000).default(1000),
  /** Cap of that delay (at least the base; checked at start). */
  ACTION_LOG_RETRY_MAX_MS: envInt(1, 3_600_000).default(30_000),
});
export type ActionLogEnv = z.infer<typeof actionLogEnv>;

/** The retry-or-park policy of an environment, checked as a whole (throws naming the mistake). */
export function policyFromEnv(env: ActionLogEnv): PoisonPolicy {
  return poisonPolicy({
    maxDeliveries: env.ACTION_LOG_MAX_DELIVERIES,
    retryBaseMs: env.ACTION_LOG_RETRY_BASE_MS,
    retryMaxMs: env.ACTION_LOG_RETRY_MAX_MS,
  });
}
