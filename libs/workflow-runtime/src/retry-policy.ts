import type { ConsumerDefinition, ErrorCode } from '@patchflow/contracts';
import { NotConfigured, PermanentError } from './errors.js';

/**
 * Everything that decides whether, when and how often a workflow retries — in one object,
 * validated once. `env.ts` builds it from the environment, the runtime takes its delays,
 * attempts and consumer settings from it, and the HTTP client and the successor's patch-status
 * client classify failures with it.
 */
export interface RetryPolicyOptions {
  /** Delay before the 2nd attempt after a transient failure; doubles each attempt. */
  baseDelayMs: number;
  /** Cap of the exponential delay; at least `baseDelayMs`. */
  maxDelayMs: number;
  /** Executions per work item before it is dead-lettered (1 = no retry). */
  maxAttempts: number;
  /**
   * How long a delivered item may go without a heartbeat before JetStream redelivers it (a
   * crashed process): the consumer's ack wait and the execution lease.
   */
  ackWaitMs: number;
}

/** The name each option has where it came from: the option itself, or its environment variable. */
export type RetryPolicyNames = Record<keyof RetryPolicyOptions, string>;

export const retryPolicyEnvNames: RetryPolicyNames = {
  baseDelayMs: 'WORKFLOW_RETRY_BASE_MS',
  maxDelayMs: 'WORKFLOW_RETRY_MAX_MS',
  maxAttempts: 'WORKFLOW_MAX_ATTEMPTS',
  ackWaitMs: 'WORKFLOW_ACK_WAIT_MS',
};

const optionNames: RetryPolicyNames = {
  baseDelayMs: 'baseDelayMs',
  maxDelayMs: 'maxDelayMs',
  maxAttempts: 'maxAttempts',
  ackWaitMs: 'ackWaitMs',
};

/** Bounds of each option (inclusive); the env schema uses the same. */
export const retryPolicyLimits: Record<keyof RetryPolicyOptions, { min: number; max: number }> = {
  baseDelayMs: { min: 1, max: 600_000 },
  maxDelayMs: { min: 1, max: 3_600_000 },
  maxAttempts: { min: 1, max: 100 },
  ackWaitMs: { min: 500, max: 3_600_000 },
};

/** A problem of a policy: the option (or variable) it is about and what is wrong with it, in one line. */
export interface RetryPolicyProblem {
  option: keyof RetryPolicyOptions;
  /** `bounds`: one option out of its range (an env schema already checks those per variable); `order`: options that contradict each other. */
  kind: 'bounds' | 'order';
  /** Without the option's own name, e.g. `must not exceed WORKFLOW_RETRY_MAX_MS (…)`. */
  message: string;
}

export class RetryPolicyError extends Error {
  override name = 'RetryPolicyError';
}

/** Longest `Retry-After` honoured; a server asking for more is waited out in several naks. */
const MAX_RETRY_AFTER_MS = 15 * 60_000;

/**
 * Extra deliveries JetStream allows beyond `maxAttempts`: the last attempt dead-letters, but a
 * delivery that never ran (lease busy elsewhere, nak'ed on shutdown) still counts, and JetStream
 * drops a message silently after `max_deliver`. Any delivery from `maxAttempts` on is final.
 */
const DELIVERY_HEADROOM = 2;

export class RetryPolicy implements RetryPolicyOptions {
  static readonly defaults: Readonly<RetryPolicyOptions> = {
    baseDelayMs: 500,
    maxDelayMs: 30_000,
    maxAttempts: 10,
    ackWaitMs: 30_000,
  };

  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly maxAttempts: number;
  readonly ackWaitMs: number;

  private constructor(o: RetryPolicyOptions) {
    this.baseDelayMs = o.baseDelayMs;
    this.maxDelayMs = o.maxDelayMs;
    this.maxAttempts = o.maxAttempts;
    this.ackWaitMs = o.ackWaitMs;
  }

  /**
   * What is wrong with `options`, each problem naming the options involved by `names` (the
   * environment variables when the options came from the environment). Empty when valid.
   */
  static problems(options: RetryPolicyOptions, names: RetryPolicyNames = optionNames): RetryPolicyProblem[] {
    const problems: RetryPolicyProblem[] = [];
    for (const key of Object.keys(retryPolicyLimits) as (keyof RetryPolicyOptions)[]) {
      const { min, max } = retryPolicyLimits[key];
      const v = options[key];
      if (!Number.isInteger(v) || v < min || v > max)
        problems.push({ option: key, kind: 'bounds', message: `must be an integer from ${min} to ${max}` });
    }
    if (problems.length === 0 && options.baseDelayMs > options.maxDelayMs) {
      problems.push({
        option: 'baseDelayMs',
        kind: 'order',
        message: `must not exceed ${names.maxDelayMs} (the first retry delay would be above its cap)`,
      });
    }
    return problems;
  }

  /** The defaults with `overrides` applied, validated: throws RetryPolicyError naming every wrong option. */
  static of(overrides: Partial<RetryPolicyOptions> = {}, names: RetryPolicyNames = optionNames): RetryPolicy {
    const options = { ...RetryPolicy.defaults, ...definedOnly(overrides) };
    const problems = RetryPolicy.problems(options, names);
    if (problems.length > 0)
      throw new RetryPolicyError(`invalid retry policy: ${problems.map((p) => `${names[p.option]} ${p.message}`).join('; ')}`);
    return new RetryPolicy(options);
  }

  /**
   * Delay before redelivering after failed attempt `attempt` (1-based): exponential from
   * `baseDelayMs`, capped, with ±20 % jitter so instances that failed together do not retry in
   * lockstep. A server's `Retry-After` wins when given.
   */
  delayMs(attempt: number, retryAfterMs?: number): number {
    if (retryAfterMs !== undefined && retryAfterMs >= 0) return Math.min(retryAfterMs, MAX_RETRY_AFTER_MS);
    const exp = this.baseDelayMs * 2 ** Math.max(0, attempt - 1);
    const capped = Math.min(exp, this.maxDelayMs);
    return Math.round(capped * (0.8 + Math.random() * 0.4));
  }

  /** Whether a transient failure on this delivery dead-letters instead of retrying. */
  isFinalDelivery(deliveryCount: number): boolean {
    return deliveryCount >= this.maxAttempts;
  }

  /** The workflow's durable consumer with this policy's ack wait and delivery limit. */
  consumer(def: ConsumerDefinition): ConsumerDefinition {
    return { ...def, ackWaitMs: this.ackWaitMs, maxDeliver: this.maxAttempts + DELIVERY_HEADROOM };
  }

  /** How often a running execution renews its lease and tells JetStream it is still working. */
  get heartbeatMs(): number {
    return Math.max(100, Math.floor(this.ackWaitMs / 3));
  }

  toJSON(): RetryPolicyOptions {
    return {
      baseDelayMs: this.baseDelayMs,
      maxDelayMs: this.maxDelayMs,
      maxAttempts: this.maxAttempts,
      ackWaitMs: this.ackWaitMs,
    };
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** How one failure is treated: retried with backoff, dead-lettered at once, or skipped as done. */
export type FailureKind = 'transient' | 'permanent' | 'not_configured';

/**
 * The kind of anything a handler threw. Anything not marked permanent or not-configured (a bug,
 * an unexpected library error) is treated as transient: retried with backoff and, if it keeps
 * failing, dead-lettered where an operator sees it.
 */
export function failureKind(error: unknown): FailureKind {
  if (error instanceof PermanentError) return 'permanent';
  if (error instanceof NotConfigured) return 'not_configured';
  return 'transient';
}

/**
 * An HTTP answer's kind: network errors are transient too (the client never got a status);
 * 408, 429 and 5xx are worth retrying (429/503 carry `Retry-After`); any other 4xx is permanent.
 */
export function httpStatusKind(status: number): 'ok' | 'transient' | 'permanent' {
  if (status === 408 || status === 429 || status >= 500) return 'transient';
  if (status >= 400) return 'permanent';
  return 'ok';
}

/** A bus error reply's kind: the service was busy, slow or racing (retry), or refused the request (do not). */
export function errorCodeKind(code: ErrorCode): 'transient' | 'permanent' {
  switch (code) {
    case 'timeout':
    case 'unavailable':
    case 'internal':
    case 'version_conflict':
      return 'transient';
    case 'validation_failed':
    case 'not_found':
    case 'invalid_transition':
    case 'idempotency_key_reused':
    case 'duplicate_patch':
    case 'forbidden':
    case 'unauthorized':
      return 'permanent';
    default: {
      const never: never = code;
      throw new Error(`unknown error code ${String(never)}`);
    }
  }
}

/** `Retry-After` as seconds or an HTTP date, in ms from now; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
