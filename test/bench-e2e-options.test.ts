import { describe, expect, it } from 'vitest';
import { parseBenchOptions } from '../scripts/bench/options.js';

describe('npm run bench:e2e options', () => {
  it('defaults to all three rows', () => {
    expect(parseBenchOptions([])).toEqual({
      options: expect.objectContaining({
        transitions: 200,
        callers: 16,
        rates: [10, 100],
        rounds: 1,
        systems: ['patchflow', 'pgboss', 'bullmq'],
        separateWorkflows: false,
      }),
    });
  });

  it('reads every option', () => {
    const r = parseBenchOptions([
      '--transitions',
      '50',
      '--callers',
      '4',
      '--rates',
      '5,20',
      '--seconds',
      '3',
      '--rounds',
      '2',
      '--only',
      'bullmq',
      '--redis-url',
      'redis://127.0.0.1:6380',
      '--dist',
      '--prof',
      '/tmp/profiles',
      '--statements',
      '--baseline',
      '/tmp/pf-base',
      '--separate-workflows',
    ]);
    expect(r).toEqual({
      options: {
        transitions: 50,
        callers: 4,
        rates: [5, 20],
        seconds: 3,
        rounds: 2,
        systems: ['bullmq'],
        redisUrl: 'redis://127.0.0.1:6380',
        dist: true,
        profDir: '/tmp/profiles',
        statements: true,
        baseline: '/tmp/pf-base',
        separateWorkflows: true,
      },
    });
    expect(parseBenchOptions(['--skip-peers'])).toEqual({ options: expect.objectContaining({ systems: ['patchflow'] }) });
    expect(parseBenchOptions(['--help'])).toEqual({ help: true });
  });

  it.each([
    [['--transitions', 'abc'], /^--transitions must be a whole number from 1 to 100000 \(got "abc"\)$/],
    [['--transitions', '0'], /^--transitions must be a whole number/],
    [['--rounds', '1.5'], /^--rounds must be a whole number/],
    [['--callers', '-3'], /^--callers must be a whole number/],
    [['--rates', '10,,100'], /^--rates must be whole numbers/],
    [['--rates', '10,x'], /^--rates must be whole numbers/],
    [['--only', 'kafka'], /^--only must be one of patchflow, pgboss, bullmq \(got "kafka"\)$/],
    [['--only', 'pgboss', '--skip-peers'], /leave nothing to run/],
    [['--seconds'], /^--seconds needs a value$/],
    [['--seconds', '--rounds', '2'], /^--seconds needs a value$/],
    [['--redis-url', 'localhost'], /^--redis-url must look like redis:\/\/host:port/],
    [['--transitons', '5'], /^unknown option "--transitons"$/],
    [['--baseline', '/tmp/pf-base'], /^--baseline runs from dist\/: add --dist$/],
    [['--dist', '--baseline'], /^--baseline needs a value$/],
  ])('refuses %j in one line naming the option', (argv, message) => {
    const r = parseBenchOptions(argv);
    expect(r).toHaveProperty('error');
    const error = (r as { error: string }).error;
    expect(error).toMatch(message);
    expect(error).not.toContain('\n');
  });
});
