import { describe, expect, it } from 'vitest';
import { parseDuration, parseTime } from './duration.js';
import { formatTable } from './table.js';

describe('formatTable', () => {
  it('pads columns, right-aligns numbers, prints "-" for missing cells', () => {
    expect(
      formatTable(
        ['NAME', 'N'],
        [
          ['gitlab', 12],
          ['jira', null],
        ],
      ),
    ).toBe(['NAME    N', '------  --', 'gitlab  12', 'jira    -'].join('\n'));
  });
});

describe('durations and times', () => {
  it('reads 500ms, 2s, 1.5m and bare milliseconds; refuses the rest in one line', () => {
    expect([
      parseDuration('500ms', 'x'),
      parseDuration('2s', 'x'),
      parseDuration('1.5m', 'x'),
      parseDuration('250', 'x'),
    ]).toEqual([500, 2000, 90_000, 250]);
    expect(() => parseDuration('soon', '--backoff')).toThrow('--backoff: "soon" is not a duration (e.g. 500ms, 2s, 5m, 1h)');
  });
  it('a time is an ISO time or an age', () => {
    expect(parseTime('2h', '--since', 10_000_000).getTime()).toBe(10_000_000 - 7_200_000);
    expect(parseTime('2026-11-26T10:00:00Z', '--since').toISOString()).toBe('2026-11-26T10:00:00.000Z');
    expect(() => parseTime('tuesday', '--since')).toThrow(/not a time/);
  });
});
