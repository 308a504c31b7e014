import { z } from 'zod';
import { ConsumerRunner, encodeJson, type Bus, type Delivery, type Settlement } from '@patchflow/bus';
import { WorkflowEvent, WorkItem, type ActionLogUpdated, type ConsumerDefinition } from '@patchflow/contracts';
import type { PoisonGuard } from './poison-guard.js';
import type { Projection, ProjectionChange } from './projection.js';

/**
 * The runner only parses JSON; the contract is checked by the PoisonGuard, so a message that fails
 * it is parked (kept, visible) before it is acknowledged. A body that is not JSON at all is
 * terminated by the runner itself and parked afterwards (`onInvalid`).
 */
const anyJson = z.unknown();

/**
 * The two durable consumers that keep the projection current: the work stream (transitions and
 * the workflows they were routed to) and the workflow-events stream (steps and execution
 * results). Delivery is at-least-once; the projection deduplicates. A message that cannot be
 * applied never blocks the ones behind it: the guard retries it with backoff (nak with a delay)
 * or parks it (see poison-guard.ts). After each real change a core-NATS ping tells the gateway
 * (and the browsers behind it) to refetch.
 */
export async function startLiveConsumers(bus: Bus, projection: Projection, guard: PoisonGuard): Promise<{ stop(): Promise<void> }> {
  const defs = bus.topology.actionLogConsumers();
  const announce = (change: ProjectionChange | undefined) => {
    if (!change) return;
    const ping: ActionLogUpdated = change;
    bus.notify(bus.topology.actionLogUpdated(change.patchId), ping);
  };

  const start = <S extends z.ZodType>(consumer: ConsumerDefinition, schema: S, what: string, apply: (value: z.infer<S>, seq: number) => Promise<ProjectionChange | undefined>) =>
    ConsumerRunner.start(bus, {
      consumer,
      schema: anyJson,
      concurrency: 8,
      handle: async (d: Delivery<unknown>): Promise<Settlement> => {
        const outcome = await guard.handle(
          {
            stream: consumer.stream,
            streamSeq: d.streamSeq,
            subject: d.subject,
            consumer: consumer.durableName,
            deliveries: d.deliveryCount,
            value: d.value,
            data: async () => (await storedBytes(bus, consumer.stream, d.streamSeq)) ?? encodeJson(d.value),
          },
          schema,
          what,
          (value) => apply(value, d.streamSeq),
        );
        switch (outcome.kind) {
          case 'applied':
            announce(outcome.result);
            return { kind: 'ack' };
          case 'parked':
            return { kind: 'ack' };
          case 'retry':
            return { kind: 'nak', delayMs: outcome.delayMs };
          default: {
            const never: never = outcome;
            throw new Error(`unknown outcome ${JSON.stringify(never)}`);
          }
        }
      },
      // Not JSON at all: the runner has terminated it already. Park it so operators see it; if
      // Postgres is down now, the message stays in the stream and the next rebuild parks it.
      onInvalid: async (info) => {
        await guard.park(
          {
            stream: consumer.stream,
            streamSeq: info.streamSeq,
            subject: info.subject,
            consumer: consumer.durableName,
            deliveries: 1,
            data: async () => (await storedBytes(bus, consumer.stream, info.streamSeq)) ?? new TextEncoder().encode(info.raw),
          },
          'invalid',
          info.error.message,
          info.error.code,
        );
      },
    });

  const work = await start(defs.work, WorkItem, 'work item', (item, seq) => projection.applyWork(item, seq));
  const events = await start(defs.events, WorkflowEvent, 'workflow event', (event, seq) => projection.applyEvent(event, seq));
  return {
    async stop() {
      await Promise.all([work.stop(), events.stop()]);
    },
  };
}

/** How long parking waits for the stored bytes before it falls back (keeps a slot from hanging). */
const STORED_BYTES_TIMEOUT_MS = 1000;

/**
 * The message's bytes exactly as the stream stores them (the delivery only carries the parsed
 * value; needs `$JS.API.STREAM.MSG.GET.<stream>`). Undefined when the stream cannot say in time
 * (message gone, no permission, NATS slow): the caller falls back to what it has.
 */
async function storedBytes(bus: Bus, stream: string, seq: number): Promise<Uint8Array | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), STORED_BYTES_TIMEOUT_MS);
  });
  const stored = await Promise.race([bus.jsm.streams.getMessage(stream, { seq }).catch(() => null), timeout]);
  clearTimeout(timer);
  return stored?.data;
}
