import { describe, expect, it } from 'vitest';
import { Topology } from './topology.js';

describe('stream replicas', () => {
  it('are 1 unless configured, and part of every stream definition', () => {
    expect(Object.values(new Topology().streams).map((s) => s.replicas)).toEqual([1, 1, 1]);
    expect(Object.values(new Topology('t', { replicas: 3 }).streams).map((s) => s.replicas)).toEqual([3, 3, 3]);
  });

  it('leave the durable consumers at 0: they follow their stream', () => {
    const t = new Topology('', { replicas: 3 });
    expect([t.workflowConsumer('slack'), ...Object.values(t.actionLogConsumers())].map((c) => c.replicas)).toEqual([0, 0, 0]);
  });

  it('must be what JetStream allows (1 to 5)', () => {
    for (const bad of [0, 6, 2.5])
      expect(() => new Topology('', { replicas: bad })).toThrow(/replicas must be an integer from 1 to 5/);
  });
});
