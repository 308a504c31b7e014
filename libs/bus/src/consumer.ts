import { AckPolicy, DeliverPolicy, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import type { z } from 'zod';
import { gauge } from '@patchflow/config';
import { ContractError, type ConsumerDefinition } from '@patchflow/contracts';
import { natsHandles, type Bus } from './bus.js';
import { decodeWith } from './codec.js';
import { BusPermissionError, isPermissionError } from './streams.js';
import { traceHeadersOf } from './trace-headers.js';

/** What the handler decided about one delivered message. */
export type Settlement =
  | { kind: 'ack' }
  /** Redeliver after `delayMs` (transient failure). */
  | { kind: 'nak'; delayMs: number }
  /** Never redeliver (poison or permanently failed, already recorded elsewhere). */
  | { kind: 'term'; reason: string };

export interface Delivery<T> {
  value: T;
  subject: string;
  /** 1 on first delivery, then 2, 3, … */
  deliveryCount: number;
  streamSeq: number;
  msgId: string | undefined;
  /** The publisher's `traceparent` / `X-Correlation-Id` headers, when it published inside a trace. */
  trace?: { traceparent?: string; correlationId?: string };
  /** The message's bytes exactly as stored (for parking a message verbatim). */
  data: Uint8Array;
  /** Tells the server the handler is still busy, resetting the ack wait. */
  working(): void;
}

export interface ConsumeOptions<S extends z.ZodType> {
  consumer: ConsumerDefinition;
  schema: S;
  handle(delivery: Delivery<z.infer<S>>): Promise<Settlement>;
  /**
   * Called for a message that fails the contract, before it is terminated (never redelivered).
   * If it throws, the message is nak'ed instead and comes back: whatever it records is not lost.
   */
  onInvalid?(info: {
    subject: string;
    streamSeq: number;
    error: ContractError;
    raw: string;
    data: Uint8Array;
  }): void | Promise<void>;
  /** Messages handled at once by this process. */
  concurrency?: number;
}

/**
 * How far each durable consumer is behind, as of the last message this process pulled: the
 * `pending` that JetStream puts in every delivery's reply subject (no extra request). Stale while
 * nothing arrives; `patchctl status` asks the server for the current count.
 */
const consumerPending = gauge({
  name: 'consumer_pending_messages',
  help: 'Messages of the stream not yet delivered to this durable consumer, as of the last message pulled',
  labelNames: ['consumer'],
});

/** Creates the durable consumer, or updates it to the definition when it exists. */
export async function ensureConsumer(bus: Bus, def: ConsumerDefinition): Promise<void> {
  const config = {
    durable_name: def.durableName,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    // One string: NATS 2.9 rejects `filter_subjects`, even with one element.
    filter_subject: def.filterSubject,
    ack_wait: nanos(def.ackWaitMs),
    max_deliver: def.maxDeliver,
    max_ack_pending: def.maxAckPending,
    // 0: the consumer keeps its state on the stream's peers, as many copies as the stream.
    num_replicas: def.replicas,
  };
  const { jsm } = natsHandles(bus);
  try {
    const existing = await jsm.consumers.info(def.stream, def.durableName).catch((err: unknown) => {
      if (isPermissionError(err)) throw err;
      return undefined;
    });
    if (existing) {
      const { durable_name: _d, deliver_policy: _p, ...updatable } = config;
      await jsm.consumers.update(def.stream, def.durableName, updatable);
    } else {
      await jsm.consumers.add(def.stream, config);
    }
  } catch (err) {
    if (!isPermissionError(err)) throw err;
    throw new BusPermissionError(
      `this service's NATS user may not create or read the consumer ${def.durableName} on ${def.stream}: ` +
        'regenerate the server config with `npm run nats:config`',
    );
  }
}

/**
 * A running durable pull consumer. Several processes running the same definition share the
 * messages (each is delivered to one of them at a time). Settlement is explicit: the handler
 * says ack, nak(delay) or term; a handler that throws is nak'ed after 1 s; an invalid message is
 * terminated at once so it never blocks the ones behind it.
 */
export class ConsumerRunner {
  private messages: ConsumerMessages | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private loop: Promise<void> | undefined;
  private stopping = false;

  constructor(
    private readonly bus: Bus,
    private readonly options: ConsumeOptions<z.ZodType>,
  ) {}

  static async start<S extends z.ZodType>(bus: Bus, options: ConsumeOptions<S>): Promise<ConsumerRunner> {
    await ensureConsumer(bus, options.consumer);
    const runner = new ConsumerRunner(bus, options as unknown as ConsumeOptions<z.ZodType>);
    await runner.run();
    return runner;
  }

  private async run(): Promise<void> {
    const { consumer } = this.options;
    const c = await natsHandles(this.bus).js.consumers.get(consumer.stream, consumer.durableName);
    const concurrency = this.options.concurrency ?? 16;
    this.messages = await c.consume({ max_messages: concurrency, expires: 5000 });
    const messages = this.messages;
    const pending = consumerPending.labels(consumer.durableName);
    this.loop = (async () => {
      for await (const m of messages) {
        pending.set(m.info.pending);
        if (this.stopping) {
          // Pulled after stop began: hand it straight back for another instance.
          m.nak();
          continue;
        }
        const p = this.process(m);
        this.inFlight.add(p);
        void p.finally(() => this.inFlight.delete(p));
        if (this.inFlight.size >= concurrency) await Promise.race(this.inFlight);
      }
    })();
  }

  private async process(m: JsMsg): Promise<void> {
    const log = this.bus.logger;
    let value: unknown;
    try {
      value = decodeWith(this.options.schema, m.data, `message on ${m.subject}`);
    } catch (error) {
      const contractError = error instanceof ContractError ? error : new ContractError('validation_failed', String(error));
      try {
        await this.options.onInvalid?.({
          subject: m.subject,
          streamSeq: m.seq,
          error: contractError,
          raw: new TextDecoder().decode(m.data).slice(0, 2000),
          data: m.data,
        });
      } catch (err) {
        log.error({ err, subject: m.subject, streamSeq: m.seq }, 'recording an invalid message failed; redelivering in 1 s');
        m.nak(1000);
        return;
      }
      log.error(
        { subject: m.subject, streamSeq: m.seq, consumer: this.options.consumer.durableName, error: contractError.message },
        'invalid message terminated',
      );
      m.term();
      return;
    }
    let settlement: Settlement;
    try {
      settlement = await this.options.handle({
        value,
        subject: m.subject,
        deliveryCount: m.info.deliveryCount,
        streamSeq: m.seq,
        msgId: m.headers?.get('Nats-Msg-Id') || undefined,
        trace: traceHeadersOf(m.headers),
        data: m.data,
        working: () => m.working(),
      });
    } catch (err) {
      log.error({ err, subject: m.subject, streamSeq: m.seq }, 'handler threw; redelivering in 1 s');
      settlement = { kind: 'nak', delayMs: 1000 };
    }
    switch (settlement.kind) {
      case 'ack':
        // Not ackAck(): a request per message (a reply, a timer, an error object made in advance)
        // cost more CPU than the handler's own writes. An ack lost in a crash only means one
        // redelivery, which every handler absorbs (claims, idempotent projection); `stop`
        // flushes, so a graceful stop loses none.
        m.ack();
        break;
      case 'nak':
        m.nak(settlement.delayMs);
        break;
      case 'term':
        // NATS 2.9 drops term reasons; the reason is logged here instead.
        log.warn({ subject: m.subject, streamSeq: m.seq, reason: settlement.reason }, 'message terminated');
        m.term();
        break;
      default: {
        const never: never = settlement;
        throw new Error(`unknown settlement ${JSON.stringify(never)}`);
      }
    }
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** Stops pulling, lets in-flight messages finish and settle, then returns. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.messages?.stop();
    await Promise.allSettled([...this.inFlight]);
    await this.loop?.catch(() => undefined);
    // The acks just sent are on the server before the caller moves on (e.g. closes the connection).
    await natsHandles(this.bus)
      .nc.flush()
      .catch(() => undefined);
  }
}
