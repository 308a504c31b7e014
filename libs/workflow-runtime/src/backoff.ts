export interface RetryPolicy {
  /** Delay before the 2nd attempt; doubles each attempt. */
  baseDelayMs: number;
  /** Cap of the exponential delay. */
  maxDelayMs: number;
  /** Executions per work item before it is dead-lettered (≤ the consumer's max_deliver). */
  maxAttempts: number;
}

/** Longest `Retry-After` honoured; a server asking for more is waited out in several naks. */
const MAX_RETRY_AFTER_MS = 15 * 60_000;

/**
 * Delay before redelivering after failed attempt `attempt` (1-based): exponential from
 * `baseDelayMs`, capped, with ±20 % jitter so instances that failed together do not retry in
 * lockstep. A server's `Retry-After` wins when given.
 */
export function retryDelayMs(policy: RetryPolicy, attempt: number, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined && retryAfterMs >= 0) return Math.min(retryAfterMs, MAX_RETRY_AFTER_MS);
  const exp = policy.baseDelayMs * 2 ** Math.max(0, attempt - 1);
  const capped = Math.min(exp, policy.maxDelayMs);
  return Math.round(capped * (0.8 + Math.random() * 0.4));
}

/** `Retry-After` as seconds or an HTTP date, in ms from now; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
