import { describe, expect, it } from 'vitest';
import type { ExecutionEventRecord, StepRecord } from './entities/index.js';
import { attemptList } from './history-queries.js';

const t = (ms: number) => new Date(1_800_000_000_000 + ms);
const iso = (ms: number) => t(ms).toISOString();

let seq = 0;
function event(
  status: ExecutionEventRecord['status'],
  attempt: number,
  atMs: number,
  extra: Partial<ExecutionEventRecord> = {},
): ExecutionEventRecord {
  seq += 1;
  return {
    eventId: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    workId: '11111111-1111-4111-8111-111111111111',
    workflow: 'slack',
    patchId: '22222222-2222-4222-8222-222222222222',
    status,
    attempt,
    error: null,
    willRetry: false,
    deadLettered: false,
    at: t(atMs),
    startedAt: null,
    streamSeq: seq,
    ...extra,
  };
}

function step(attempt: number, atMs: number): StepRecord {
  seq += 1;
  return {
    eventId: `00000000-0000-4000-9000-${String(seq).padStart(12, '0')}`,
    workId: '11111111-1111-4111-8111-111111111111',
    workflow: 'slack',
    patchId: '22222222-2222-4222-8222-222222222222',
    attempt,
    subactionType: 'patch.workflow.markActive.notify',
    message: 'posted',
    metadata: {},
    at: t(atMs),
    streamSeq: seq,
  };
}

describe('attemptList', () => {
  it("takes each attempt's start from its outcome's startedAt when no running event was sent", () => {
    const events = [
      event('failed', 1, 40, { error: 'HTTP 502', willRetry: true, startedAt: t(10) }),
      event('succeeded', 2, 90, { startedAt: t(60) }),
    ];
    const steps = [step(1, 20), step(2, 70)];
    expect(attemptList(events, steps)).toEqual([
      { attempt: 1, startedAt: iso(10), finishedAt: iso(40), outcome: 'failed', error: 'HTTP 502' },
      { attempt: 2, startedAt: iso(60), finishedAt: iso(90), outcome: 'succeeded', error: null },
    ]);
  });

  it('shows an attempt with steps but no event yet as running from its first step', () => {
    const events = [event('failed', 1, 40, { error: 'HTTP 502', willRetry: true, startedAt: t(10) })];
    expect(attemptList(events, [step(2, 70), step(2, 65)])).toEqual([
      { attempt: 1, startedAt: iso(10), finishedAt: iso(40), outcome: 'failed', error: 'HTTP 502' },
      { attempt: 2, startedAt: iso(65), finishedAt: null, outcome: 'running', error: null },
    ]);
  });

  it('lists events from before startedAt as before: the running event is the start', () => {
    const events = [
      event('running', 1, 0),
      event('failed', 1, 40, { error: 'HTTP 502', willRetry: true }),
      event('running', 2, 60),
      event('succeeded', 2, 90),
    ];
    expect(attemptList(events, [step(1, 20)])).toEqual([
      { attempt: 1, startedAt: iso(0), finishedAt: iso(40), outcome: 'failed', error: 'HTTP 502' },
      { attempt: 2, startedAt: iso(60), finishedAt: iso(90), outcome: 'succeeded', error: null },
    ]);
  });

  it('shows a slow attempt as running from when it started, not from when it said so', () => {
    expect(attemptList([event('running', 1, 250, { startedAt: t(0) })], [step(1, 100)])).toEqual([
      { attempt: 1, startedAt: iso(0), finishedAt: null, outcome: 'running', error: null },
    ]);
  });
});
