import { z } from 'zod';
import { commonEnv, natsEnv, envInt, tracingEnv } from '@patchflow/config';
import { RetryPolicy, retryPolicyEnvNames, retryPolicyLimits, type RetryPolicyOptions } from './retry-policy.js';

/** A retry-policy variable: the policy's own bounds and default, so they are written once. */
const policyInt = (option: keyof RetryPolicyOptions) =>
  envInt(retryPolicyLimits[option].min, retryPolicyLimits[option].max).default(RetryPolicy.defaults[option]);

/** Environment every workflow service reads; a service adds its external system's variables. */
export const workflowEnv = {
  ...natsEnv,
  /** Prefix for every subject and stream; empty in production, unique per test. */
  BUS_NAMESPACE: commonEnv.BUS_NAMESPACE,
  LOG_LEVEL: commonEnv.LOG_LEVEL,
  ...tracingEnv,
  /** The workflow services' own database (execution records, dead letters); created when missing. */
  WORKFLOW_DATABASE_URL: z.url().default('postgres://root@127.0.0.1:5432/patchflow_workflows'),
  /** Delay before the 2nd attempt after a transient failure; doubles per attempt. At most WORKFLOW_RETRY_MAX_MS. */
  WORKFLOW_RETRY_BASE_MS: policyInt('baseDelayMs'),
  /** Cap of the exponential retry delay. */
  WORKFLOW_RETRY_MAX_MS: policyInt('maxDelayMs'),
  /** Attempts before a work item is dead-lettered (1 = no retry). */
  WORKFLOW_MAX_ATTEMPTS: policyInt('maxAttempts'),
  /** How long a delivered item may go without a heartbeat before JetStream redelivers it (crashed process). */
  WORKFLOW_ACK_WAIT_MS: policyInt('ackWaitMs'),
  /** Work items executed at once by one process. */
  WORKFLOW_CONCURRENCY: envInt(1, 512).default(16),
  /** On SIGTERM, how long in-flight executions may finish before they are aborted and nak'ed. */
  WORKFLOW_SHUTDOWN_GRACE_MS: envInt(0, 600_000).default(10_000),
  /** An execution reports `running` only once it has run this long (0: at once); a quicker one reports just its outcome. */
  WORKFLOW_RUNNING_EVENT_DELAY_MS: envInt(0, 600_000).default(250),
  /** Timeout of each call to the external system. */
  HTTP_TIMEOUT_MS: envInt(100, 600_000).default(10_000),
};

export type WorkflowEnv = z.infer<z.ZodObject<typeof workflowEnv>>;

/**
 * The checks across variables every workflow service's schema runs (`z.object({ ...workflowEnv,
 * … }).superRefine(checkWorkflowEnv)`): the retry policy must be valid as a whole, e.g.
 * WORKFLOW_RETRY_BASE_MS ≤ WORKFLOW_RETRY_MAX_MS. Each problem is one line naming the variables.
 */
export function checkWorkflowEnv(env: WorkflowEnv, ctx: z.RefinementCtx): void {
  // Each variable's range is checked by its own schema entry (zod still runs this refinement
  // after such an issue): only the contradictions between variables are added here.
  for (const p of RetryPolicy.problems(retryPolicyOptionsOf(env), retryPolicyEnvNames)) {
    if (p.kind === 'order') ctx.addIssue({ code: 'custom', path: [retryPolicyEnvNames[p.option]], message: p.message });
  }
}

/** The retry policy of a parsed environment — the one place it is built from the variables. */
export function retryPolicyFromEnv(env: WorkflowEnv): RetryPolicy {
  return RetryPolicy.of(retryPolicyOptionsOf(env), retryPolicyEnvNames);
}

function retryPolicyOptionsOf(env: WorkflowEnv): RetryPolicyOptions {
  return {
    baseDelayMs: env.WORKFLOW_RETRY_BASE_MS,
    maxDelayMs: env.WORKFLOW_RETRY_MAX_MS,
    maxAttempts: env.WORKFLOW_MAX_ATTEMPTS,
    ackWaitMs: env.WORKFLOW_ACK_WAIT_MS,
  };
}

/**
 * Credentials that only work together (a URL, a user, a token): all set, or none (then the
 * workflow runs "not configured"). A partial set stops the start naming what is missing, e.g.
 * `JIRA_URL and JIRA_EMAIL are set but JIRA_API_TOKEN is missing` — never a value.
 */
export function requireAllOrNone(env: Record<string, unknown>, names: readonly string[], ctx: z.RefinementCtx): void {
  const set = names.filter((n) => env[n] !== undefined);
  const missing = names.filter((n) => env[n] === undefined);
  if (set.length === 0 || missing.length === 0) return;
  const list = (xs: string[]) => (xs.length === 1 ? xs[0]! : `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1]!}`);
  ctx.addIssue({
    code: 'custom',
    path: [missing[0]!],
    message: `${list(set)} ${set.length === 1 ? 'is' : 'are'} set but ${list(missing)} ${missing.length === 1 ? 'is' : 'are'} missing`,
  });
}
