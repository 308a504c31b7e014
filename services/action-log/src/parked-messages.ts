import { ParkedMessageSchema, type ParkedMessage, type ParkReason } from './entities/index.js';
import type { ActionLogOrm } from './orm.js';

export interface ParkInput {
  stream: string;
  streamSeq: number;
  subject: string;
  consumer: string;
  reason: ParkReason;
  error: string;
  deliveries: number;
  data: Uint8Array;
}

/**
 * The `parked_message` table: messages the projection gave up on, for operators to read (`npm run
 * action-log:parked`). Parking is idempotent per stream and sequence (a redelivery after a lost
 * ack, or a rebuild, updates the row); a fresh EntityManager per call.
 */
export class ParkedMessages {
  constructor(private readonly orm: ActionLogOrm) {}

  /** Stores (or refreshes) one parked message; throws when Postgres cannot take it. */
  async park(p: ParkInput): Promise<void> {
    await this.orm.em
      .fork()
      .createQueryBuilder(ParkedMessageSchema)
      .insert({
        stream: p.stream,
        streamSeq: p.streamSeq,
        subject: p.subject,
        consumer: p.consumer,
        reason: p.reason,
        error: p.error,
        deliveries: p.deliveries,
        data: Buffer.from(p.data),
        parkedAt: new Date(),
      })
      .onConflict(['stream', 'streamSeq'])
      .merge(['subject', 'consumer', 'reason', 'error', 'deliveries', 'data', 'parkedAt'])
      .execute('run');
  }

  /** Oldest first, at most `limit`; with the total so a truncated list says so. */
  async list(limit: number): Promise<{ total: number; messages: ParkedMessage[] }> {
    const em = this.orm.em.fork();
    const [messages, total] = await em.findAndCount(
      ParkedMessageSchema,
      {},
      { orderBy: { parkedAt: 'asc', stream: 'asc', streamSeq: 'asc' }, limit },
    );
    return { total, messages };
  }

  /** Sequences of one stream's parked messages (the rebuild retries them and forgets those that apply). */
  async sequences(stream: string): Promise<Set<number>> {
    const rows = await this.orm.em.fork().find(ParkedMessageSchema, { stream }, { fields: ['streamSeq'] });
    return new Set(rows.map((r) => r.streamSeq));
  }

  /** Forgets a parked message that has since been applied. */
  async release(stream: string, streamSeq: number): Promise<void> {
    await this.orm.em.fork().nativeDelete(ParkedMessageSchema, { stream, streamSeq });
  }
}
