import { describe, expect, it } from 'vitest';
import { foldExecution, type ExecutionFact } from './execution-fold.js';

let seq = 0;
function fact(status: ExecutionFact['status'], attempt: number, atMs: number, extra: Partial<ExecutionFact> = {}): ExecutionFact {
  seq += 1;
  return {
    eventId: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    status,
    attempt,
    error: null,
    willRetry: false,
    deadLettered: false,
    at: new Date(1_800_000_000_000 + atMs),
    streamSeq: seq,
    ...extra,
  };
}

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
}

describe('foldExecution', () => {
  it('is pending without events, running with only steps', () => {
    expect(foldExecution([], 0)).toMatchObject({ status: 'pending', attempts: 0 });
    expect(foldExecution([], 1)).toMatchObject({ status: 'running', attempts: 1 });
  });

  it('keeps the last error after a retry succeeded, whatever the arrival order', () => {
    const events = [
      fact('running', 1, 0),
      fact('failed', 1, 10, { error: 'HTTP 502 from GitLab', willRetry: true }),
      fact('running', 2, 20),
      fact('succeeded', 2, 30),
    ];
    const results = permutations(events).map((p) => foldExecution(p, 2));
    for (const r of results) expect(r).toEqual(results[0]);
    expect(results[0]).toMatchObject({ status: 'succeeded', attempts: 2, lastError: 'HTTP 502 from GitLab', willRetry: false });
    expect(results[0]?.finishedAt?.getTime()).toBe(1_800_000_000_030);
  });

  it('orders an outcome after running in the same millisecond', () => {
    const r = foldExecution([fact('succeeded', 1, 5), fact('running', 1, 5)], 1);
    expect(r.status).toBe('succeeded');
  });

  it('reports a waiting retry as failed without a finish time, and a dead letter as final', () => {
    expect(foldExecution([fact('failed', 1, 0, { error: 'x', willRetry: true })], 1)).toMatchObject({
      status: 'failed',
      willRetry: true,
      finishedAt: null,
    });
    const dead = foldExecution([fact('failed', 3, 0, { error: 'gave up', deadLettered: true })], 3);
    expect(dead).toMatchObject({ status: 'failed', deadLettered: true, lastError: 'gave up' });
    expect(dead.finishedAt).not.toBeNull();
  });

  it('treats steps of a newer attempt as running', () => {
    expect(foldExecution([fact('failed', 1, 0, { error: 'x', willRetry: true })], 2)).toMatchObject({
      status: 'running',
      attempts: 2,
      lastError: 'x',
    });
  });

  it("takes an outcome's startedAt as the start when no running event was sent, whatever the arrival order", () => {
    const started = (ms: number) => new Date(1_800_000_000_000 + ms);
    const events = [
      fact('failed', 1, 40, { error: 'HTTP 502', willRetry: true, startedAt: started(10) }),
      fact('succeeded', 2, 90, { startedAt: started(60) }),
    ];
    const results = permutations(events).map((p) => foldExecution(p, 2));
    for (const r of results) expect(r).toEqual(results[0]);
    expect(results[0]).toMatchObject({ status: 'succeeded', attempts: 2, startedAt: started(10), finishedAt: started(90) });
    // A quick attempt: its outcome alone, with its steps (no running event) — finished, not running.
    expect(foldExecution([fact('succeeded', 1, 25, { startedAt: started(20) })], 1)).toMatchObject({
      status: 'succeeded',
      startedAt: started(20),
      finishedAt: started(25),
    });
  });

  it('folds events from before startedAt as before: the first running event is the start, else the first event', () => {
    const old = [
      fact('running', 1, 0),
      fact('failed', 1, 10, { error: 'x', willRetry: true }),
      fact('running', 2, 20),
      fact('succeeded', 2, 30),
    ];
    expect(foldExecution(old, 2)).toMatchObject({
      status: 'succeeded',
      startedAt: new Date(1_800_000_000_000),
      finishedAt: new Date(1_800_000_000_030),
    });
    expect(foldExecution([fact('skipped', 1, 5)], 0)).toMatchObject({
      status: 'skipped',
      startedAt: new Date(1_800_000_000_005),
    });
    // A running event of a slow attempt, sent after the delay, says when its attempt really started.
    const late = foldExecution([fact('running', 1, 250, { startedAt: new Date(1_800_000_000_000) })], 0);
    expect(late).toMatchObject({ status: 'running', startedAt: new Date(1_800_000_000_000), finishedAt: null });
  });
});
