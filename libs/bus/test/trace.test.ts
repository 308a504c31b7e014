import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { patchEndpoints, WorkItem } from '@patchflow/contracts';
import { currentTrace, incomingTrace, withTrace, type TraceContext } from '@patchflow/log';
import { buildWorkItem, connectTestBus, deleteNamespaceStreams, uniqueNamespace } from '@patchflow/testing';
import { ConsumerRunner, type Bus, type Delivery } from '../src/index.js';

// The trace crosses NATS as headers: a request made inside a trace is handled inside the same
// trace on the serving side, and a JetStream message published inside one carries it to its
// consumer. Outside a trace nothing is added.

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
let bus: Bus;

beforeAll(async () => {
  bus = await connectTestBus(uniqueNamespace('bustrace'));
});

afterAll(async () => {
  await deleteNamespaceStreams(bus);
  await bus.close();
});

describe('trace headers on the bus', () => {
  it('a request inside a trace is served inside it (same trace id and correlation id); one outside has none', async () => {
    const seen: (TraceContext | undefined)[] = [];
    bus.serve(patchEndpoints.get, async () => {
      seen.push(currentTrace());
      throw new Error('not needed: only the context is under test');
    });
    const ctx = incomingTrace(TRACEPARENT, 'corr-7');
    await withTrace(ctx, () => bus.request(patchEndpoints.get, { id: '8c2b4f3e-8a4e-4d0c-9a53-3f6c0a1d2e4b' }));
    await bus.request(patchEndpoints.get, { id: '8c2b4f3e-8a4e-4d0c-9a53-3f6c0a1d2e4b' });
    expect(seen).toHaveLength(2);
    expect(seen[0]).toEqual({ ...ctx });
    expect(seen[1]).toBeUndefined();
  });

  it('a JetStream publish inside a trace reaches its consumer with traceparent and correlation id', async () => {
    const traced = buildWorkItem('markActive');
    const plain = buildWorkItem('markActive');
    await withTrace(incomingTrace(TRACEPARENT, 'corr-8'), () =>
      bus.publish(bus.topology.work('markActive'), traced, { msgId: traced.workId }),
    );
    await bus.publish(bus.topology.work('markActive'), plain, { msgId: plain.workId });
    const got = new Map<string, Delivery<WorkItem>['trace']>();
    let done!: () => void;
    const both = new Promise<void>((r) => (done = r));
    const runner = await ConsumerRunner.start(bus, {
      consumer: bus.topology.workflowConsumer('slack'),
      schema: WorkItem,
      handle: async (d) => {
        got.set(d.value.workId, d.trace);
        if (got.size === 2) done();
        return { kind: 'ack' };
      },
    });
    await both;
    await runner.stop();
    expect(got.get(traced.workId)).toEqual({ traceparent: TRACEPARENT, correlationId: 'corr-8' });
    expect(got.get(plain.workId)).toEqual({});
  });
});
