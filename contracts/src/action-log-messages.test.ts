import { describe, expect, it } from 'vitest';
import { ActionLogUpdated, combinedEffects, historyCursor, settlementOf, StepLink } from './action-log-messages.js';

const since = '2026-11-26T10:00:00.000Z';
const at = (ms: number) => new Date(Date.parse(since) + ms).toISOString();

describe('settlementOf', () => {
  it('is running while a workflow is pending, running or waiting for a retry', () => {
    for (const status of ['pending', 'running'] as const) {
      expect(
        settlementOf(
          [
            { workflow: 'jira', status: 'succeeded', willRetry: false, finishedAt: at(10) },
            { workflow: 'slack', status, willRetry: false, finishedAt: null },
          ],
          since,
        ),
      ).toEqual({ settled: false, settledAt: null, settleMs: null, effects: 'running', running: ['slack'], failed: [] });
    }
    const retrying = settlementOf([{ workflow: 'gitlab', status: 'failed', willRetry: true, finishedAt: null }], since);
    expect(retrying).toMatchObject({ settled: false, effects: 'running', running: ['gitlab'], failed: [] });
  });

  it('settles at the last finish; skipped counts as final', () => {
    expect(
      settlementOf(
        [
          { workflow: 'jira', status: 'succeeded', willRetry: false, finishedAt: at(250) },
          { workflow: 'slack', status: 'skipped', willRetry: false, finishedAt: at(40) },
        ],
        since,
      ),
    ).toEqual({ settled: true, settledAt: at(250), settleMs: 250, effects: 'settled', running: [], failed: [] });
  });

  it('is failed once settled with a final failure (dead-lettered included)', () => {
    expect(
      settlementOf(
        [
          { workflow: 'jira', status: 'failed', willRetry: false, finishedAt: at(900) },
          { workflow: 'slack', status: 'succeeded', willRetry: false, finishedAt: at(30) },
        ],
        since,
      ),
    ).toEqual({ settled: true, settledAt: at(900), settleMs: 900, effects: 'failed', running: [], failed: ['jira'] });
  });

  it('combines transitions: running over failed over settled', () => {
    expect(combinedEffects(['settled', 'failed', 'running'])).toBe('running');
    expect(combinedEffects(['settled', 'failed'])).toBe('failed');
    expect(combinedEffects(['settled'])).toBe('settled');
    expect(combinedEffects([])).toBe('settled');
  });
});

describe('history cursor, links and pings', () => {
  it('round-trips a patch version and refuses anything else', () => {
    expect(historyCursor.decode(historyCursor.encode(42))).toBe(42);
    expect(historyCursor.decode('nonsense')).toBeUndefined();
    expect(historyCursor.decode(Buffer.from('v1:-1').toString('base64url'))).toBeUndefined();
  });

  it('accepts only http and https links', () => {
    expect(StepLink.safeParse({ label: 'PAY-3', url: 'https://jira.example.com/browse/PAY-3' }).success).toBe(true);
    expect(StepLink.safeParse({ label: 'p', url: 'http://localhost:8080/p/1' }).success).toBe(true);
    for (const url of ['javascript:alert(1)', 'data:text/html,x', '/relative', 'ftp://x.example.com/a']) {
      expect(StepLink.safeParse({ label: 'x', url }).success, url).toBe(false);
    }
    expect(StepLink.safeParse({ label: '', url: 'https://a.example.com' }).success).toBe(false);
  });

  it('reads a ping from an older action-log (no settlement) as running', () => {
    const ping = ActionLogUpdated.parse({
      patchId: '8f1c2a4e-4f7a-4d7e-9c1e-2b1f0c9d3e4a',
      workId: '8f1c2a4e-4f7a-4d7e-9c1e-2b1f0c9d3e4b',
      kind: 'work',
    });
    expect(ping).toMatchObject({ settled: false, effects: 'running' });
  });
});
