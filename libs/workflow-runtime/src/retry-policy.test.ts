import { describe, expect, it } from 'vitest';
import { NotConfigured, PermanentError, TransientError } from './errors.js';
import { errorCodeKind, failureKind, httpStatusKind, parseRetryAfter, RetryPolicy, retryPolicyEnvNames } from './retry-policy.js';

const policy = RetryPolicy.of({ baseDelayMs: 500, maxDelayMs: 30_000, maxAttempts: 10 });

describe('RetryPolicy', () => {
  it('defaults: 500 ms doubling to 30 s, 10 attempts, 30 s ack wait', () => {
    expect(RetryPolicy.of().toJSON()).toEqual({ baseDelayMs: 500, maxDelayMs: 30_000, maxAttempts: 10, ackWaitMs: 30_000 });
  });

  it('doubles from the base delay, within ±20 % jitter', () => {
    for (const [attempt, nominal] of [
      [1, 500],
      [2, 1000],
      [3, 2000],
      [6, 16_000],
    ] as const) {
      const d = policy.delayMs(attempt);
      expect(d).toBeGreaterThanOrEqual(nominal * 0.8);
      expect(d).toBeLessThanOrEqual(nominal * 1.2);
    }
  });
  it('is capped', () => expect(policy.delayMs(30)).toBeLessThanOrEqual(36_000));
  it('lets Retry-After win, up to 15 minutes', () => {
    expect(policy.delayMs(1, 7000)).toBe(7000);
    expect(policy.delayMs(1, 3_600_000)).toBe(900_000);
  });

  it('refuses a base delay above the cap, naming both options (or both variables)', () => {
    expect(() => RetryPolicy.of({ baseDelayMs: 5000, maxDelayMs: 100 })).toThrow(
      'invalid retry policy: baseDelayMs must not exceed maxDelayMs (the first retry delay would be above its cap)',
    );
    expect(RetryPolicy.problems({ ...RetryPolicy.defaults, baseDelayMs: 5000, maxDelayMs: 100 }, retryPolicyEnvNames)).toEqual([
      {
        option: 'baseDelayMs',
        kind: 'order',
        message: 'must not exceed WORKFLOW_RETRY_MAX_MS (the first retry delay would be above its cap)',
      },
    ]);
  });

  it('refuses fewer than one attempt and non-integers', () => {
    expect(() => RetryPolicy.of({ maxAttempts: 0 })).toThrow(/maxAttempts must be an integer from 1 to 100/);
    expect(() => RetryPolicy.of({ baseDelayMs: 1.5 })).toThrow(/baseDelayMs must be an integer/);
  });

  it('ignores undefined overrides (an unset option keeps its default)', () => {
    expect(RetryPolicy.of({ maxAttempts: undefined, ackWaitMs: 2000 }).toJSON()).toMatchObject({
      maxAttempts: 10,
      ackWaitMs: 2000,
    });
  });

  it('dead-letters from the last attempt on, and lets JetStream deliver a little past it', () => {
    const p = RetryPolicy.of({ maxAttempts: 4, ackWaitMs: 2000 });
    expect([3, 4, 5].map((n) => p.isFinalDelivery(n))).toEqual([false, true, true]);
    const def = {
      stream: 's',
      durableName: 'd',
      filterSubject: 'x.>',
      ackWaitMs: 30_000,
      maxDeliver: 10,
      maxAckPending: 1000,
      replicas: 0,
    };
    expect(p.consumer(def)).toEqual({ ...def, ackWaitMs: 2000, maxDeliver: 6 });
    expect(p.heartbeatMs).toBe(666);
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter('Wed, 25 Nov 2026 10:00:05 GMT', Date.parse('Wed, 25 Nov 2026 10:00:00 GMT'))).toBe(5000);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});

describe('failure classification', () => {
  it('maps the closed set of errors, unknown errors as transient', () => {
    expect(failureKind(new TransientError('x'))).toBe('transient');
    expect(failureKind(new PermanentError('x'))).toBe('permanent');
    expect(failureKind(new NotConfigured('x'))).toBe('not_configured');
    expect(failureKind(new TypeError('x'))).toBe('transient');
  });
  it('HTTP: 408, 429 and 5xx retry; other 4xx do not', () => {
    expect([200, 204, 408, 429, 500, 503, 400, 401, 404, 422].map(httpStatusKind)).toEqual([
      'ok',
      'ok',
      'transient',
      'transient',
      'transient',
      'transient',
      'permanent',
      'permanent',
      'permanent',
      'permanent',
    ]);
  });
  it('bus error replies: busy or racing retry, refusals do not', () => {
    expect(errorCodeKind('timeout')).toBe('transient');
    expect(errorCodeKind('version_conflict')).toBe('transient');
    expect(errorCodeKind('validation_failed')).toBe('permanent');
    expect(errorCodeKind('idempotency_key_reused')).toBe('permanent');
  });
});
