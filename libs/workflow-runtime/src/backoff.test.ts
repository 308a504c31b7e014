import { describe, expect, it } from 'vitest';
import { parseRetryAfter, retryDelayMs } from './backoff.js';
import { failureKind, NotConfigured, PermanentError, TransientError } from './errors.js';

const policy = { baseDelayMs: 500, maxDelayMs: 30_000, maxAttempts: 10 };

describe('retryDelayMs', () => {
  it('doubles from the base delay, within ±20 % jitter', () => {
    for (const [attempt, nominal] of [[1, 500], [2, 1000], [3, 2000], [6, 16_000]] as const) {
      const d = retryDelayMs(policy, attempt);
      expect(d).toBeGreaterThanOrEqual(nominal * 0.8);
      expect(d).toBeLessThanOrEqual(nominal * 1.2);
    }
  });
  it('is capped', () => expect(retryDelayMs(policy, 30)).toBeLessThanOrEqual(36_000));
  it('lets Retry-After win', () => expect(retryDelayMs(policy, 1, 7000)).toBe(7000));
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter('Wed, 25 Nov 2026 10:00:05 GMT', Date.parse('Wed, 25 Nov 2026 10:00:00 GMT'))).toBe(5000);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});

describe('failureKind', () => {
  it('maps the closed set, unknown errors as transient', () => {
    expect(failureKind(new TransientError('x'))).toBe('transient');
    expect(failureKind(new PermanentError('x'))).toBe('permanent');
    expect(failureKind(new NotConfigured('x'))).toBe('not_configured');
    expect(failureKind(new TypeError('x'))).toBe('transient');
  });
});
