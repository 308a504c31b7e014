import { ConsumerRunner, type Bus } from '@patchflow/bus';
import { WorkflowEvent, WorkItem, type ActionLogUpdated } from '@patchflow/contracts';
import type { Projection, ProjectionChange } from './projection.js';

/**
 * The two durable consumers that keep the projection current: the work stream (transitions and
 * the workflows they were routed to) and the workflow-events stream (steps and execution
 * results). Delivery is at-least-once; the projection deduplicates. A database failure throws,
 * and the runner redelivers after a delay. After each real change a core-NATS ping tells the
 * gateway (and the browsers behind it) to refetch.
 */
export async function startLiveConsumers(bus: Bus, projection: Projection): Promise<{ stop(): Promise<void> }> {
  const defs = bus.topology.actionLogConsumers();
  const announce = (change: ProjectionChange | undefined) => {
    if (!change) return;
    const ping: ActionLogUpdated = change;
    bus.notify(bus.topology.actionLogUpdated(change.patchId), ping);
  };
  const work = await ConsumerRunner.start(bus, {
    consumer: defs.work,
    schema: WorkItem,
    concurrency: 8,
    handle: async (d) => {
      announce(await projection.applyWork(d.value, d.streamSeq));
      return { kind: 'ack' };
    },
  });
  const events = await ConsumerRunner.start(bus, {
    consumer: defs.events,
    schema: WorkflowEvent,
    concurrency: 8,
    handle: async (d) => {
      announce(await projection.applyEvent(d.value, d.streamSeq));
      return { kind: 'ack' };
    },
  });
  return {
    async stop() {
      await Promise.all([work.stop(), events.stop()]);
    },
  };
}
