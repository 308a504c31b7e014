import { EntitySchema, BigIntType, type Opt } from '@mikro-orm/core';

/** Why a message was parked instead of applied. */
export const parkReasons = ['invalid', 'rejected', 'exhausted'] as const;
export type ParkReason = (typeof parkReasons)[number];

/**
 * A message the projection could not apply, kept for operators instead of being redelivered
 * forever (a poison message must never block the ones behind it). Keyed by its place in the
 * stream, so parking the same message twice (a lost ack, a rebuild) keeps one row.
 */
export interface ParkedMessage {
  stream: string;
  streamSeq: number;
  subject: string;
  /** The durable consumer (or `rebuild`) that gave up on it. */
  consumer: string;
  /**
   * `invalid`: fails the contract (never retried); `rejected`: the database refused it with a
   * data or integrity error (SQLSTATE class 22 or 23, would fail again); `exhausted`: any other
   * error, still failing after the configured number of deliveries.
   */
  reason: ParkReason;
  /** What failed, one line (SQLSTATE and the server's message, or the contract's field problems). */
  error: string;
  /** Deliveries (or rebuild attempts) made before it was parked. */
  deliveries: number;
  /** The message body exactly as stored in the stream; bytea, since it may hold anything (NUL bytes too). */
  data: Buffer;
  parkedAt: Date & Opt;
}

export const ParkedMessageSchema = new EntitySchema<ParkedMessage>({
  name: 'ParkedMessage',
  tableName: 'parked_message',
  indexes: [{ name: 'parked_message_parked_at_idx', properties: ['parkedAt'] }],
  properties: {
    stream: { type: 'string', primary: true },
    streamSeq: { type: new BigIntType('number'), primary: true },
    subject: { type: 'text' },
    consumer: { type: 'string' },
    // An enum: MikroORM declares (and diffs) it as the check constraint `parked_message_reason_check`.
    reason: { enum: true, items: () => [...parkReasons] },
    error: { type: 'text' },
    deliveries: { type: 'integer' },
    data: { type: 'blob' },
    parkedAt: { type: 'Date', defaultRaw: 'now()' },
  },
});
