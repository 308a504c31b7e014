import type { z } from 'zod';
import { ContractError, fieldProblems } from '@patchflow/contracts';
import type { Logger } from '@patchflow/log';
import type { ParkReason } from './entities/index.js';
import type { ParkedMessages } from './parked-messages.js';
import { decideFailure, errorLabel, retryDelayMs, type PoisonPolicy } from './poison-policy.js';

/** One delivery of a stream message, as much as the guard needs of it. */
export interface GuardedMessage {
  stream: string;
  streamSeq: number;
  subject: string;
  /** The durable consumer, or `rebuild`. */
  consumer: string;
  /** 1 on the first delivery (or rebuild attempt). */
  deliveries: number;
  /** The body parsed as JSON, not yet checked against the contract. */
  value: unknown;
  /** The body's bytes, to park it; only called on the way to the parking lot. */
  data(): Promise<Uint8Array>;
}

export type GuardOutcome<R> =
  | { kind: 'applied'; result: R }
  | { kind: 'parked'; reason: ParkReason }
  /** Redeliver after `delayMs`; `parkFailed` when the message was due for parking but Postgres refused. */
  | { kind: 'retry'; delayMs: number; parkFailed: boolean };

/**
 * Keeps a message the projection cannot apply from blocking the ones behind it: checks the
 * contract, applies, and on failure either asks for a delayed redelivery or parks the message in
 * `parked_message` (see poison-policy.ts for which). A message is only ever reported `parked`
 * once its row is committed; if parking fails it is retried like any transient failure, so
 * nothing is acknowledged that was neither applied nor parked.
 */
export class PoisonGuard {
  constructor(
    private readonly parked: ParkedMessages,
    private readonly policy: PoisonPolicy,
    private readonly logger: Logger,
  ) {}

  async handle<S extends z.ZodType, R>(
    m: GuardedMessage,
    schema: S,
    what: string,
    apply: (value: z.infer<S>) => Promise<R>,
  ): Promise<GuardOutcome<R>> {
    let error: unknown;
    const parsed = schema.safeParse(m.value);
    if (!parsed.success) {
      error = ContractError.validation(fieldProblems(parsed.error), what);
    } else {
      try {
        return { kind: 'applied', result: await apply(parsed.data) };
      } catch (err) {
        error = err;
      }
    }
    const decision = decideFailure(this.policy, error, m.deliveries);
    if (decision.kind === 'retry') {
      this.logger.warn(
        {
          stream: m.stream,
          streamSeq: m.streamSeq,
          consumer: m.consumer,
          deliveries: m.deliveries,
          error: errorLabel(error),
          delayMs: decision.delayMs,
        },
        'message not applied; retrying',
      );
      return { kind: 'retry', delayMs: decision.delayMs, parkFailed: false };
    }
    return this.park(m, decision.reason, decision.error, errorLabel(error));
  }

  /** Parks `m`; a failure to park becomes a retry (Postgres is down: the next delivery tries again). */
  async park(m: Omit<GuardedMessage, 'value'>, reason: ParkReason, error: string, label: string): Promise<GuardOutcome<never>> {
    try {
      const data = await m.data();
      await this.parked.park({
        stream: m.stream,
        streamSeq: m.streamSeq,
        subject: m.subject,
        consumer: m.consumer,
        reason,
        error,
        deliveries: m.deliveries,
        data,
      });
    } catch (err) {
      const delayMs = retryDelayMs(this.policy, m.deliveries);
      this.logger.error(
        {
          stream: m.stream,
          streamSeq: m.streamSeq,
          consumer: m.consumer,
          deliveries: m.deliveries,
          parkError: errorLabel(err),
          delayMs,
        },
        'could not park message; retrying',
      );
      return { kind: 'retry', delayMs, parkFailed: true };
    }
    // One line per parked message: where it is and why, never its content.
    this.logger.warn(
      {
        stream: m.stream,
        streamSeq: m.streamSeq,
        subject: m.subject,
        consumer: m.consumer,
        reason,
        deliveries: m.deliveries,
        error: label,
      },
      'message parked (npm run action-log:parked)',
    );
    return { kind: 'parked', reason };
  }
}
