import { describe, expect, it } from 'vitest';
import { ContractError } from '@patchflow/contracts';
import {
  decideFailure,
  describeError,
  isDatabaseUnavailable,
  poisonPolicy,
  retryDelayMs,
  sqlState,
  type PoisonPolicy,
} from './poison-policy.js';

const policy: PoisonPolicy = { maxDeliveries: 4, retryBaseMs: 100, retryMaxMs: 1000 };

/** The shape MikroORM gives a driver error: the SQL in front of the server's message, `code` copied. */
function pgError(code: string, serverMessage: string): Error {
  return Object.assign(new Error(`insert into "action_log_step" ("message") values ('secret payload') - ${serverMessage}`), {
    code,
  });
}

describe('decideFailure', () => {
  it('parks a contract violation and a data or integrity error at once', () => {
    expect(
      decideFailure(policy, ContractError.validation([{ path: 'workId', message: 'Invalid UUID' }], 'work item'), 1),
    ).toEqual({
      kind: 'park',
      reason: 'invalid',
      error: 'invalid work item: workId: Invalid UUID',
    });
    expect(decideFailure(policy, pgError('22001', 'value too long for type character varying(255)'), 1)).toEqual({
      kind: 'park',
      reason: 'rejected',
      error: 'SQLSTATE 22001: value too long for type character varying(255)',
    });
    expect(decideFailure(policy, pgError('23505', 'duplicate key value violates unique constraint "x"'), 1)).toMatchObject({
      kind: 'park',
      reason: 'rejected',
    });
  });

  it('retries anything else with a growing delay, and parks it after the last delivery', () => {
    const timeout = new Error('lock wait');
    expect(decideFailure(policy, timeout, 1)).toMatchObject({ kind: 'retry', error: 'Error: lock wait' });
    expect(decideFailure(policy, pgError('40P01', 'deadlock detected'), 3)).toMatchObject({ kind: 'retry' });
    expect(decideFailure(policy, new TypeError('x is undefined'), 4)).toEqual({
      kind: 'park',
      reason: 'exhausted',
      error: 'TypeError: x is undefined',
    });
  });
});

describe('Postgres unreachable', () => {
  it("is retried however many deliveries it took: the outage is not the message's fault", () => {
    const outages = [
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
      pgError('57P01', 'terminating connection due to administrator command'),
      pgError('08006', 'connection failure'),
      new Error('Connection terminated unexpectedly'),
      new Error('wrapped', { cause: Object.assign(new Error('Timeout acquiring a connection.'), { name: 'KnexTimeoutError' }) }),
    ];
    for (const e of outages) {
      expect(isDatabaseUnavailable(e)).toBe(true);
      expect(decideFailure(policy, e, 100)).toMatchObject({ kind: 'retry' });
    }
    expect(isDatabaseUnavailable(pgError('23505', 'duplicate key'))).toBe(false);
    expect(isDatabaseUnavailable(new TypeError('x is undefined'))).toBe(false);
  });
});

describe('retryDelayMs', () => {
  it('doubles from the base, capped, within ±20 %', () => {
    for (let i = 0; i < 50; i += 1) {
      expect(retryDelayMs(policy, 1)).toBeGreaterThanOrEqual(80);
      expect(retryDelayMs(policy, 1)).toBeLessThanOrEqual(120);
      expect(retryDelayMs(policy, 3)).toBeGreaterThanOrEqual(320);
      expect(retryDelayMs(policy, 3)).toBeLessThanOrEqual(480);
      expect(retryDelayMs(policy, 30)).toBeLessThanOrEqual(1200);
    }
  });
});

describe('describeError', () => {
  it('keeps the server message without the SQL (payload values inlined) and never a NUL byte', () => {
    const text = describeError(pgError('22P02', 'invalid input syntax'));
    expect(text).toBe('SQLSTATE 22P02: invalid input syntax');
    const withNul = describeError(ContractError.validation([{ path: 'metadata.a\u0000b', message: 'bad' }], 'workflow event'));
    expect(withNul).not.toContain('\u0000');
    expect(withNul).toContain('a\\u0000b');
    expect(describeError(new Error('y'.repeat(5000))).length).toBeLessThanOrEqual(1000);
  });

  it('finds the SQLSTATE on a cause, and not in a Node error code', () => {
    expect(sqlState(new Error('wrapped', { cause: pgError('23503', 'fk') }))).toBe('23503');
    expect(sqlState(Object.assign(new Error('broken pipe'), { code: 'EPIPE' }))).toBeUndefined();
  });
});

describe('poisonPolicy', () => {
  it('refuses a cap below the base and fewer than one delivery', () => {
    expect(() => poisonPolicy({ maxDeliveries: 3, retryBaseMs: 500, retryMaxMs: 100 })).toThrow(/at least the base/);
    expect(() => poisonPolicy({ maxDeliveries: 0, retryBaseMs: 1, retryMaxMs: 1 })).toThrow(/maxDeliveries/);
    expect(poisonPolicy(policy)).toBe(policy);
  });
});
