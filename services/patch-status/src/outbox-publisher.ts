import type pg from 'pg';
import { StreamPublisher, type Bus } from '@patchflow/bus';
import { streamMessages, type WorkItem } from '@patchflow/contracts';
import type { Logger } from '@patchflow/log';

/**
 * Publishes a committed transition's work right away, with the work id as `Nats-Msg-Id`, and
 * records `published_at` in small batches. At-least-once: a failure here is only logged — the row
 * stays unpublished and the relay publishes it later; JetStream's duplicate window makes a second
 * publish of the same id harmless.
 */
export class OutboxPublisher {
  private pending: { id: string; seq: number }[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private readonly stream: StreamPublisher;
  /** Published, not yet acknowledged by the stream (or refused). */
  private readonly unacked = new Set<string>();

  constructor(
    private readonly bus: Bus,
    private readonly pool: pg.Pool,
    private readonly logger: Logger,
  ) {
    // Acks come back on one subscription: no request, timer or promise per work item.
    this.stream = new StreamPublisher(
      bus,
      (workId, ack) => {
        this.unacked.delete(workId);
        this.markPublished(workId, ack.seq);
      },
      (workId, error) => {
        this.unacked.delete(workId);
        this.logger.warn({ workId, err: error }, 'publish after commit refused; the outbox relay will retry');
      },
    );
  }

  /** Sends the work now; the caller's reply does not wait for JetStream's acknowledgement. */
  publishSoon(work: WorkItem): void {
    try {
      this.stream.send(streamMessages.work, work);
      this.unacked.add(work.workId);
    } catch (err) {
      // Closed or draining connection: the row stays unpublished and the relay takes it.
      this.logger.warn(
        { workId: work.workId, err: (err as Error).message },
        'publish after commit failed; the outbox relay will retry',
      );
    }
  }

  /** Queues `published_at` for a row; flushed as one UPDATE every few ms. */
  markPublished(id: string, seq: number): void {
    this.pending.push({ id, seq });
    if (this.pending.length >= 200) this.flushNow();
    else this.flushTimer ??= setTimeout(() => this.flushNow(), 10);
  }

  private flushNow(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    this.flushing = this.flushing.then(() =>
      this.pool
        .query({
          name: 'outbox-mark-published',
          text: `UPDATE patch_transition_work w SET published_at = now(), stream_seq = b.seq
                   FROM unnest($1::uuid[], $2::bigint[]) AS b(id, seq)
                  WHERE w.id = b.id AND w.published_at IS NULL`,
          values: [batch.map((b) => b.id), batch.map((b) => b.seq)],
        })
        .then(() => undefined)
        .catch((err: unknown) =>
          // Not fatal: the relay will publish these again and JetStream will call it a duplicate.
          this.logger.warn({ err: (err as Error).message, count: batch.length }, 'could not record published work'),
        ),
    );
  }

  /**
   * Waits (at most `timeoutMs`) for the acknowledgements of everything published, so a clean
   * shutdown leaves no committed work unrecorded; what does not come in time the relay re-sends.
   */
  async settle(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.unacked.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    if (this.unacked.size > 0)
      this.logger.warn({ unacked: this.unacked.size }, 'stopping with unacknowledged publishes; the relay will re-send them');
  }

  /** Writes every queued `published_at`; called on shutdown. */
  async flush(): Promise<void> {
    try {
      this.stream.close();
    } catch {
      // the connection is already closed: nothing more will arrive
    }
    this.flushNow();
    await this.flushing;
  }
}
