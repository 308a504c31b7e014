import { describe, expect, it } from 'vitest';
import { coalescePings, ProjectionBatcher, type BatchApplier } from './projection-batcher.js';
import type { ProjectionChange, ProjectionInput } from './projection.js';

const input = (seq: number): ProjectionInput =>
  ({
    kind: 'event',
    streamSeq: seq,
    event: { kind: 'step', eventId: `e${seq}`, patchId: `p${seq % 2}`, workId: `w${seq}`, workflow: 'slack' },
  }) as unknown as ProjectionInput;
/** An execution's outcome (what settles a transition): it never lingers. */
const outcome = (seq: number): ProjectionInput =>
  ({ ...input(seq), event: { ...(input(seq) as { event: object }).event, kind: 'execution' } }) as unknown as ProjectionInput;
const running = { settled: false, effects: 'running' } as const;
const changeOf = (i: ProjectionInput): ProjectionChange =>
  i.kind === 'event'
    ? { patchId: i.event.patchId, workId: i.event.workId, kind: 'step', workflow: 'slack', ...running }
    : { patchId: '', workId: '', kind: 'work', ...running };

/** A fake projection recording its transactions; `fail(seqs)` says which inputs refuse to apply. */
function fakeProjection(fail: (seqs: number[]) => Error | undefined = () => undefined) {
  const transactions: number[][] = [];
  let release: () => void = () => undefined;
  let gate: Promise<void> | undefined;
  const applier: BatchApplier = {
    async applyBatch(inputs) {
      const seqs = inputs.map((i) => i.streamSeq);
      transactions.push(seqs);
      if (gate) await gate;
      const err = fail(seqs);
      if (err) throw err;
      return inputs.map(changeOf);
    },
  };
  return {
    applier,
    transactions,
    hold() {
      gate = new Promise((r) => (release = r));
    },
    release() {
      gate = undefined;
      release();
    },
  };
}

describe('ProjectionBatcher', () => {
  it('applies a lone message at once and what arrives meanwhile together, pinging once per batch', async () => {
    const fake = fakeProjection();
    const announced: ProjectionChange[][] = [];
    const batcher = new ProjectionBatcher(fake.applier, { maxBatch: 10, maxInFlight: 1, onApplied: (c) => announced.push(c) });
    fake.hold();
    const first = batcher.apply(input(1));
    const rest = [2, 3, 4].map((s) => batcher.apply(input(s)));
    expect(fake.transactions).toEqual([[1]]);
    fake.release();
    await Promise.all([first, ...rest]);
    expect(fake.transactions).toEqual([[1], [2, 3, 4]]);
    expect(announced.map((a) => a.length)).toEqual([1, 3]);
    expect(await rest[0]).toMatchObject({ workId: 'w2' });
  });

  it('lets a step or work item wait up to lingerMs for company; an execution outcome goes at once and takes them along', async () => {
    const fake = fakeProjection();
    const batcher = new ProjectionBatcher(fake.applier, {
      maxBatch: 10,
      maxInFlight: 1,
      lingerMs: 60_000,
      onApplied: () => undefined,
    });
    const work = { kind: 'work', streamSeq: 1, item: { workId: 'w1' } } as unknown as ProjectionInput;
    const waiting = [batcher.apply(work), batcher.apply(input(2))];
    expect(fake.transactions).toEqual([]);
    await Promise.all([...waiting, batcher.apply(outcome(3))]);
    expect(fake.transactions).toEqual([[1, 2, 3]]);

    // Alone, a step leaves once the linger is over.
    const quick = new ProjectionBatcher(fake.applier, { maxBatch: 10, maxInFlight: 1, lingerMs: 30, onApplied: () => undefined });
    const started = performance.now();
    await quick.apply(input(4));
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
    expect(fake.transactions).toEqual([[1, 2, 3], [4]]);
  });

  it('under load pauses pauseAfterMs after a transaction, so outcomes arriving meanwhile share the next; a quiet batcher never pauses', async () => {
    const fake = fakeProjection();
    /** `pauseAfterMs` batcher; `outcome(first)` applied while outcomes `more` queue behind it. */
    const behind = async (options: { maxBatch: number; pauseAfterMs: number }, first: number, more: number[]) => {
      const batcher = new ProjectionBatcher(fake.applier, { maxInFlight: 1, onApplied: () => undefined, ...options });
      fake.hold();
      const head = batcher.apply(outcome(first));
      const queued = more.map((s) => batcher.apply(outcome(s)));
      fake.release();
      await head;
      return { batcher, queued };
    };
    const { batcher, queued } = await behind({ maxBatch: 10, pauseAfterMs: 50 }, 1, [2]);
    await new Promise((r) => setTimeout(r, 5));
    // The transaction ended with a message queued: the next one waits, and outcomes arriving
    // during the pause (which never wait otherwise) join it.
    const late = [batcher.apply(outcome(3)), batcher.apply(outcome(4))];
    expect(fake.transactions).toEqual([[1]]);
    await Promise.all([...queued, ...late]);
    expect(fake.transactions).toEqual([[1], [2, 3, 4]]);
    // Nothing was queued when that one ended: an outcome goes at once.
    const alone = batcher.apply(outcome(5));
    expect(fake.transactions).toEqual([[1], [2, 3, 4], [5]]);
    await alone;
    // A full batch does not wait for the pause either.
    await Promise.all((await behind({ maxBatch: 2, pauseAfterMs: 60_000 }, 6, [7, 8])).queued);
    expect(fake.transactions.slice(3)).toEqual([[6], [7, 8]]);
  });

  it('after a failed batch applies its messages one by one: only the bad one fails', async () => {
    const bad = Object.assign(new Error('new row violates check constraint'), { code: '23514' });
    const fake = fakeProjection((seqs) => (seqs.includes(3) ? bad : undefined));
    const batcher = new ProjectionBatcher(fake.applier, { maxBatch: 10, maxInFlight: 1, onApplied: () => undefined });
    fake.hold();
    const all = [1, 2, 3, 4].map((s) => batcher.apply(input(s)));
    fake.release();
    const outcomes = await Promise.allSettled(all);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(fake.transactions).toEqual([[1], [2, 3, 4], [2], [3], [4]]);
  });

  it('fails the whole batch at once when Postgres is unreachable (nobody is to blame)', async () => {
    const down = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const fake = fakeProjection(() => down);
    const batcher = new ProjectionBatcher(fake.applier, { maxBatch: 10, maxInFlight: 1, onApplied: () => undefined });
    fake.hold();
    const all = [1, 2, 3].map((s) => batcher.apply(input(s)));
    fake.release();
    const outcomes = await Promise.allSettled(all);
    expect(outcomes.every((o) => o.status === 'rejected')).toBe(true);
    expect(fake.transactions).toEqual([[1], [2, 3]]);
  });
});

it('coalesces the pings of a batch to one per work item, its last execution change preferred', () => {
  const changes: ProjectionChange[] = [
    { patchId: 'a', workId: 'w1', kind: 'step', workflow: 'successor', ...running },
    { patchId: 'b', workId: 'w2', kind: 'work', ...running },
    { patchId: 'a', workId: 'w1', kind: 'execution', workflow: 'successor', ...running },
    { patchId: 'b', workId: 'w2', kind: 'step', workflow: 'jira', ...running },
    { patchId: 'a', workId: 'w1', kind: 'execution', workflow: 'gitlab', ...running },
    { patchId: 'a', workId: 'w1', kind: 'step', workflow: 'gitlab', ...running },
  ];
  expect(coalescePings(changes)).toEqual([changes[4], changes[1]]);
});
