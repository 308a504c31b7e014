import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfirmingStreamPublisher, type Bus } from '@patchflow/bus';
import { streamMessages, type StepEvent } from '@patchflow/contracts';
import { connectTestBus, deleteNamespaceStreams, readStream, uniqueNamespace } from '@patchflow/testing';

/** The runtime's events go through ConfirmingStreamPublisher: a send resolves only once stored. */
describe('ConfirmingStreamPublisher (workflow events)', () => {
  let bus: Bus;

  beforeAll(async () => {
    bus = await connectTestBus(uniqueNamespace('wfpub'));
  });

  afterAll(async () => {
    await deleteNamespaceStreams(bus);
    await bus.close();
  });

  const step = (): StepEvent => ({
    kind: 'step',
    eventId: randomUUID(),
    workId: randomUUID(),
    patchId: randomUUID(),
    action: 'markActive',
    workflow: 'slack',
    attempt: 1,
    at: new Date().toISOString(),
    subactionType: 'patch.workflow.markActive.notify',
    message: 'posted',
    metadata: {},
  });

  it('resolves each send with the stored sequence; a repeated event id is stored once', async () => {
    const events = new ConfirmingStreamPublisher(bus);
    try {
      const sent = Array.from({ length: 50 }, step);
      const acks = await Promise.all([...sent, sent[0]!].map((e) => events.send(streamMessages.step, e)));
      expect(new Set(acks.slice(0, 50).map((a) => a.seq)).size).toBe(50);
      expect(acks[50]).toMatchObject({ seq: acks[0]!.seq, duplicate: true });
      expect(events.pending).toBe(0);
      const stored = await readStream(bus, 'workflowEvents');
      expect(stored.length).toBe(50);
    } finally {
      events.close();
    }
  });

  it('rejects a send no stream stores, and any send after close (never resolves it as stored)', async () => {
    const events = new ConfirmingStreamPublisher(bus, 300);
    try {
      const closed = new ConfirmingStreamPublisher(bus, 300);
      closed.close();
      await expect(closed.send(streamMessages.step, step())).rejects.toThrow(/closed/);
      // No stream captures the subject any more: nothing stores the event.
      await bus.admin.deleteStream(bus.topology.streams.workflowEvents.name);
      await expect(events.send(streamMessages.step, step())).rejects.toThrow(/no stream|no ack|refused/);
      expect(events.pending).toBe(0);
    } finally {
      events.close();
      await bus.ensureStreams(['workflowEvents']);
    }
  });
});
