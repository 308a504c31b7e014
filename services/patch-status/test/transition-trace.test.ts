import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkItem } from '@patchflow/contracts';
import { createLogger, incomingTrace, withTrace } from '@patchflow/log';
import { ConsumerRunner, type Bus, type Delivery } from '@patchflow/bus';
import {
  connectTestBus,
  createTestDatabase,
  deleteNamespaceStreams,
  readStream,
  testLogLevel,
  testNatsUrl,
  testPool,
  uniqueNamespace,
  waitFor,
  type TestDatabase,
} from '@patchflow/testing';
import { startPatchStatus, type PatchStatusApp } from '../src/index.js';
import { OutboxRelay } from '../src/outbox-relay.js';

// A transition is a span of its caller's trace (a new trace without one); the work item carries
// it in the outbox row, so the relay's late publish keeps it, with the trace headers too.

const TRACE_ID = '9d3c2b1a0f9e8d7c6b5a493827161504';
const CALLER_SPAN = '1122334455667788';

let db: TestDatabase;
let app: PatchStatusApp;
let relayBus: Bus;

beforeAll(async () => {
  db = await createTestDatabase('ps_trace');
  app = await startPatchStatus({
    databaseUrl: db.url,
    natsUrl: testNatsUrl(),
    namespace: uniqueNamespace('pstrace'),
    logLevel: testLogLevel,
    env: { OUTBOX_RELAY_INTERVAL_MS: '600000' },
  });
  // The relay under test publishes into a namespace of its own: no earlier publish of the same
  // work id sits in that stream's duplicate window.
  relayBus = await connectTestBus(uniqueNamespace('pstrrel'));
});

afterAll(async () => {
  await app?.stop();
  for (const bus of [app?.bus, relayBus]) if (bus) await deleteNamespaceStreams(bus).catch(() => undefined);
  await relayBus?.close();
  await db?.drop();
});

describe('the trace of a transition', () => {
  it('continues the caller trace into the work item (its own span, the caller correlation id) and starts one without', async () => {
    const { patch } = await app.service.create({ name: 'trace 1.0.1', product: 'trace', actor: 't' });
    const traced = await withTrace(incomingTrace(`00-${TRACE_ID}-${CALLER_SPAN}-01`, 'corr-ps'), () =>
      app.service.transition({ patchId: patch.id, action: 'markActive', actor: { name: 't', role: 'admin' } }),
    );
    const untraced = await app.service.transition({
      patchId: patch.id,
      action: 'startDeployment',
      actor: { name: 't', role: 'admin' },
    });
    await waitFor(async () => (await readStream(app.bus, 'work')).length === 2, { what: 'both work items published' });
    const items = new Map((await readStream(app.bus, 'work')).map((m) => [m.msgId, WorkItem.parse(m.value)]));
    const first = items.get(traced.transition.workId)!.trace!;
    const [, traceId, spanId] = first.traceparent.split('-');
    expect(traceId).toBe(TRACE_ID);
    expect(spanId).not.toBe(CALLER_SPAN);
    expect(first.correlationId).toBe('corr-ps');
    const second = items.get(untraced.transition.workId)!.trace!;
    expect(second.traceparent.split('-')[1]).toMatch(/^[0-9a-f]{32}$/);
    expect(second.traceparent.split('-')[1]).not.toBe(TRACE_ID);
    expect(second.correlationId).toBe(second.traceparent.split('-')[1]);
  });

  it("the relay's late publish keeps the item's trace and sends it as headers", async () => {
    const sql = testPool(db.url);
    // patch-status marks a row published after the stream's ack, a moment after the publish the
    // first test waited for: let both marks land first, or one would undo the reset below.
    await waitFor(
      async () =>
        (await sql.query<{ n: number }>('SELECT count(*)::int AS n FROM patch_transition_work WHERE published_at IS NOT NULL'))
          .rows[0]!.n === 2,
      { what: 'both rows marked published by patch-status' },
    );
    await sql.query('UPDATE patch_transition_work SET published_at = NULL');
    const relay = new OutboxRelay(relayBus, sql, createLogger('relay', 'silent'), {
      intervalMs: 1000,
      graceMs: 0,
      batchSize: 10,
    });
    expect(await relay.relayOnce()).toBe(2);
    await sql.end();
    const got: Delivery<WorkItem>[] = [];
    const runner = await ConsumerRunner.start(relayBus, {
      consumer: relayBus.topology.workflowConsumer('slack'),
      schema: WorkItem,
      handle: async (d) => {
        got.push(d);
        return { kind: 'ack' };
      },
    });
    await waitFor(() => got.length === 2, { what: 'both relayed items consumed' });
    await runner.stop();
    for (const d of got) {
      expect(d.value.trace).toBeDefined();
      expect(d.trace).toEqual({ traceparent: d.value.trace!.traceparent, correlationId: d.value.trace!.correlationId });
    }
    expect(got.some((d) => d.value.trace!.traceparent.includes(TRACE_ID))).toBe(true);
  });
});
