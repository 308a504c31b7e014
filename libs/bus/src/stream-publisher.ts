import { headers, type Subscription } from '@nats-io/transport-node';
import { withTraceHeaders } from './trace-headers.js';
import type { z } from 'zod';
import type { StreamMessage } from '@patchflow/contracts';
import { natsHandles, type Bus } from './bus.js';
import { encodeJson } from './codec.js';

export interface StreamAck {
  stream: string;
  seq: number;
  duplicate: boolean;
}

/**
 * Publishes to JetStream without a request (and its timer) per message: each message names a
 * reply subject under one inbox subscription, where the stream's acknowledgements arrive. Fire
 * and confirm: `onAck` is called for each message the stream stored (or recognised as a
 * duplicate of its `Nats-Msg-Id`), `onError` for each it refused; a message that gets neither
 * (NATS down) is simply never confirmed — callers keep their own record and retry, as the
 * outbox does.
 */
export class StreamPublisher {
  private readonly inbox: string;
  private readonly sub: Subscription;

  constructor(
    private readonly bus: Bus,
    private readonly onAck: (msgId: string, ack: StreamAck) => void,
    private readonly onError: (msgId: string, error: string) => void,
  ) {
    this.inbox = bus.createInbox();
    this.sub = natsHandles(bus).nc.subscribe(`${this.inbox}.*`, {
      callback: (err, msg) => {
        if (err) return;
        const msgId = msg.subject.slice(this.inbox.length + 1);
        let body: { stream?: string; seq?: number; duplicate?: boolean; error?: { description?: string } };
        try {
          body = msg.json();
        } catch {
          // An empty body with a 503 status header: no stream listens on the subject.
          return this.onError(msgId, msg.headers?.description || 'no stream answered');
        }
        if (body.error || body.seq === undefined) return this.onError(msgId, body.error?.description ?? 'no ack');
        this.onAck(msgId, { stream: body.stream ?? '', seq: body.seq, duplicate: body.duplicate ?? false });
      },
    });
  }

  /** Sends one catalogued message (`streamMessages`): subject and `Nats-Msg-Id` from the value. */
  send<S extends z.ZodType>(message: StreamMessage<S>, value: z.infer<S>): string {
    const msgId = message.msgId(value);
    this.publish(message.subject(this.bus.topology, value), value, msgId);
    return msgId;
  }

  /** Sends one message with `Nats-Msg-Id` = `msgId` (a token without `.`, `*` or `>`). */
  publish(subject: string, value: unknown, msgId: string): void {
    const h = withTraceHeaders(headers())!;
    h.set('Nats-Msg-Id', msgId);
    natsHandles(this.bus).nc.publish(subject, encodeJson(value), { headers: h, reply: `${this.inbox}.${msgId}` });
  }

  /**
   * Sends one catalogued message asking for no ack at all (no reply subject): the stream stores it
   * (deduplicated by `Nats-Msg-Id`) but nobody learns whether it did. Only for messages whose
   * loss is harmless — a progress event that a confirmed one follows.
   */
  sendUnconfirmed<S extends z.ZodType>(message: StreamMessage<S>, value: z.infer<S>): void {
    const h = withTraceHeaders(headers())!;
    h.set('Nats-Msg-Id', message.msgId(value));
    natsHandles(this.bus).nc.publish(message.subject(this.bus.topology, value), encodeJson(value), { headers: h });
  }

  close(): void {
    this.sub.unsubscribe();
  }
}

/** A message the stream did not confirm in time, or refused. */
export class StreamPublishError extends Error {
  override name = 'StreamPublishError';
}

interface Waiter {
  resolve: (ack: StreamAck) => void;
  reject: (err: Error) => void;
  deadline: number;
}

/**
 * A StreamPublisher whose `send` returns a promise per message: resolved when the stream stored
 * it (or recognised its `Nats-Msg-Id` as a duplicate), rejected when it refused it or no ack came
 * within `timeoutMs` (NATS down) — what `Bus.send` promises, without a request, timer and error
 * object per message: acks arrive on one subscription and one timer sweeps the late ones.
 */
export class ConfirmingStreamPublisher {
  private readonly publisher: StreamPublisher;
  /** msgId → waiters in send order (a msgId sent again before its ack has two). */
  private readonly waiting = new Map<string, Waiter[]>();
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;

  constructor(
    bus: Bus,
    private readonly timeoutMs = 5000,
  ) {
    this.publisher = new StreamPublisher(
      bus,
      (msgId, ack) => this.settle(msgId, (w) => w.resolve(ack)),
      (msgId, error) => this.settle(msgId, (w) => w.reject(new StreamPublishError(`stream refused ${msgId}: ${error}`))),
    );
    this.sweeper = setInterval(() => this.sweep(), Math.max(50, Math.min(1000, timeoutMs / 4)));
    this.sweeper.unref();
  }

  /** Sends one catalogued message; resolves once the stream has stored it. */
  send<S extends z.ZodType>(message: StreamMessage<S>, value: z.infer<S>): Promise<StreamAck> {
    if (this.closed) return Promise.reject(new StreamPublishError('publisher closed: nothing sent'));
    return new Promise<StreamAck>((resolve, reject) => {
      const msgId = message.msgId(value);
      const list = this.waiting.get(msgId);
      const waiter: Waiter = { resolve, reject, deadline: Date.now() + this.timeoutMs };
      if (list) list.push(waiter);
      else this.waiting.set(msgId, [waiter]);
      try {
        this.publisher.send(message, value);
      } catch (err) {
        // Closed or draining connection: nothing was sent.
        this.settle(msgId, () => undefined, true);
        reject(err instanceof Error ? err : new StreamPublishError(String(err)));
      }
    });
  }

  /** See `StreamPublisher.sendUnconfirmed`: stored without an ack, for progress events only. */
  sendUnconfirmed<S extends z.ZodType>(message: StreamMessage<S>, value: z.infer<S>): void {
    if (this.closed) throw new StreamPublishError('publisher closed: nothing sent');
    this.publisher.sendUnconfirmed(message, value);
  }

  /** Unconfirmed messages (for tests and shutdown logs). */
  get pending(): number {
    let n = 0;
    for (const list of this.waiting.values()) n += list.length;
    return n;
  }

  /** Stops listening for acks; messages still unconfirmed are rejected. */
  close(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    this.publisher.close();
    for (const list of this.waiting.values())
      for (const w of list) w.reject(new StreamPublishError('publisher closed before the stream confirmed'));
    this.waiting.clear();
  }

  /** Hands the first waiter of `msgId` to `fn` (with `last`, the last one: a send that failed). */
  private settle(msgId: string, fn: (w: Waiter) => void, last = false): void {
    const list = this.waiting.get(msgId);
    if (!list) return;
    const w = last ? list.pop() : list.shift();
    if (list.length === 0) this.waiting.delete(msgId);
    if (w) fn(w);
  }

  private sweep(): void {
    const now = Date.now();
    for (const [msgId, list] of this.waiting) {
      // Map order is send order of each msgId's first waiter: stop at the first one still in time.
      if (list[0]!.deadline > now) break;
      this.waiting.delete(msgId);
      for (const w of list) w.reject(new StreamPublishError(`no ack from the stream for ${msgId} within ${this.timeoutMs} ms`));
    }
  }
}
