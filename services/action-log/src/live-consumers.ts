import { z } from 'zod';
import { ConsumerRunner, type Bus, type Delivery, type Settlement } from '@patchflow/bus';
import { counter } from '@patchflow/config';
import { WorkflowEvent, WorkItem, type ActionLogUpdated, type ConsumerDefinition } from '@patchflow/contracts';
import type { PoisonGuard } from './poison-guard.js';
import { coalescePings, ProjectionBatcher } from './projection-batcher.js';
import type { Projection, ProjectionChange } from './projection.js';

/**
 * Messages each consumer has in hand at once (its pull size). The projection batches what arrives
 * together into one transaction (up to this many), so a larger window means fewer, bigger
 * transactions under load; a lone message is still applied at once.
 */
const CONCURRENCY = 256;

/**
 * How long a work item or a step waits for company before its transaction starts; an execution's
 * outcome (what settles a transition) never waits. At 10 transitions/s this halves the
 * projection's transactions; the history shows a step at most this much later.
 */
const LINGER_MS = 20;

/**
 * Under load, how long the next transaction waits after one ends (when less than a batch is
 * queued): what arrives meanwhile shares it, so there are fewer transactions per settled
 * transition (measured in the README's change table, Benchmarks); a quiet system's queue is empty
 * then, so its outcomes never wait.
 */
const PAUSE_AFTER_MS = 2;

/**
 * The runner only parses JSON; the contract is checked by the PoisonGuard, so a message that fails
 * it is parked (kept, visible) before it is acknowledged. A body that is not JSON at all is
 * parked (onInvalid) before the runner terminates it.
 */
const anyJson = z.unknown();

const projectedTotal = counter({
  name: 'action_log_messages_projected_total',
  help: 'Messages the live action-log projection applied, by stream',
  labelNames: ['stream'],
});
const parkedTotal = counter({
  name: 'action_log_messages_parked_total',
  help: 'Messages the live action-log projection parked (could not apply; see npm run action-log:parked), by stream and reason',
  labelNames: ['stream', 'reason'],
});

/**
 * The two durable consumers that keep the projection current: the work stream (transitions and
 * the workflows they were routed to) and the workflow-events stream (steps and execution
 * results). Delivery is at-least-once; the projection deduplicates. A message that cannot be
 * applied never blocks the ones behind it: the guard retries it with backoff (nak with a delay)
 * or parks it (see poison-guard.ts). Messages delivered together are applied together, one
 * transaction per batch (projection-batcher.ts); after each batch one core-NATS ping per changed
 * work item tells the gateway (and the browsers behind it) to refetch.
 */
export async function startLiveConsumers(
  bus: Bus,
  projection: Projection,
  guard: PoisonGuard,
): Promise<{ stop(): Promise<void> }> {
  const defs = bus.topology.actionLogConsumers();
  const announce = (changes: ProjectionChange[]) => {
    for (const change of coalescePings(changes)) {
      const ping: ActionLogUpdated = {
        patchId: change.patchId,
        workId: change.workId,
        kind: change.kind,
        ...(change.workflow ? { workflow: change.workflow } : {}),
        settled: change.settled,
        effects: change.effects,
      };
      bus.notify(bus.topology.actionLogUpdated(change.patchId), ping);
    }
  };
  // One batcher for both streams and one transaction at a time: what arrives while it runs leaves
  // together in the next (a transition's work item and its workflows' events share batches), and
  // two batches never wait for each other's row locks.
  const batches = new ProjectionBatcher(projection, {
    maxBatch: CONCURRENCY,
    maxInFlight: 1,
    lingerMs: LINGER_MS,
    pauseAfterMs: PAUSE_AFTER_MS,
    onApplied: announce,
  });

  const start = <S extends z.ZodType>(
    consumer: ConsumerDefinition,
    schema: S,
    what: string,
    apply: (value: z.infer<S>, seq: number) => Promise<ProjectionChange | undefined>,
  ) => {
    const projected = projectedTotal.labels(consumer.stream);
    return ConsumerRunner.start(bus, {
      consumer,
      schema: anyJson,
      concurrency: CONCURRENCY,
      handle: async (d: Delivery<unknown>): Promise<Settlement> => {
        const outcome = await guard.handle(
          {
            stream: consumer.stream,
            streamSeq: d.streamSeq,
            subject: d.subject,
            consumer: consumer.durableName,
            deliveries: d.deliveryCount,
            value: d.value,
            data: async () => d.data,
          },
          schema,
          what,
          (value) => apply(value, d.streamSeq),
        );
        switch (outcome.kind) {
          case 'applied':
            projected.inc();
            return { kind: 'ack' };
          case 'parked':
            parkedTotal.labels(consumer.stream, outcome.reason).inc();
            return { kind: 'ack' };
          case 'retry':
            return { kind: 'nak', delayMs: outcome.delayMs };
          default: {
            const never: never = outcome;
            throw new Error(`unknown outcome ${JSON.stringify(never)}`);
          }
        }
      },
      // Not JSON at all: park it so operators see it before the runner terminates it; if parking
      // fails (Postgres down) the runner naks it and it comes back.
      onInvalid: async (info) => {
        const parked = await guard.park(
          {
            stream: consumer.stream,
            streamSeq: info.streamSeq,
            subject: info.subject,
            consumer: consumer.durableName,
            deliveries: 1,
            data: async () => info.data,
          },
          'invalid',
          info.error.message,
          info.error.code,
        );
        if (parked.kind === 'parked') parkedTotal.labels(consumer.stream, parked.reason).inc();
      },
    });
  };

  const work = await start(defs.work, WorkItem, 'work item', (item, streamSeq) =>
    batches.apply({ kind: 'work', item, streamSeq }),
  );
  const events = await start(defs.events, WorkflowEvent, 'workflow event', (event, streamSeq) =>
    batches.apply({ kind: 'event', event, streamSeq }),
  );
  return {
    async stop() {
      await Promise.all([work.stop(), events.stop()]);
    },
  };
}
