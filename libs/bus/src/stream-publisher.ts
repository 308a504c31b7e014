import { headers, type Subscription } from '@nats-io/transport-node';
import type { z } from 'zod';
import type { StreamMessage } from '@patchflow/contracts';
import type { Bus } from './bus.js';
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
    this.sub = bus.nc.subscribe(`${this.inbox}.*`, {
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
    const h = headers();
    h.set('Nats-Msg-Id', msgId);
    this.bus.nc.publish(subject, encodeJson(value), { headers: h, reply: `${this.inbox}.${msgId}` });
  }

  close(): void {
    this.sub.unsubscribe();
  }
}
