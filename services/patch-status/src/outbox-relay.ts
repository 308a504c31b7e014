import type pg from 'pg';
import type { Bus } from '@patchflow/bus';
import { gauge, readWithin } from '@patchflow/config';
import { withPoolClient } from '@patchflow/db';
import { streamMessages, type WorkItem } from '@patchflow/contracts';
import { incomingTrace, withTrace, type Logger } from '@patchflow/log';

export interface OutboxRelayOptions {
  intervalMs: number;
  graceMs: number;
  batchSize: number;
}

/**
 * Publishes work that was committed but never published (the process died between commit and
 * publish, or NATS was down). Each round claims a batch with `FOR UPDATE SKIP LOCKED` inside a
 * transaction, so several patch-status instances relay side by side without publishing the same
 * rows at the same time; rows whose publish fails stay unpublished for the next round.
 */
export class OutboxRelay {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private stopped = false;

  constructor(
    private readonly bus: Bus,
    private readonly pool: pg.Pool,
    private readonly logger: Logger,
    private readonly options: OutboxRelayOptions,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
    measureBacklog(this, this.logger);
  }

  /**
   * The unpublished work and the age of its oldest row (0 when there is none), from the partial
   * index on unpublished rows; read when Prometheus scrapes, not on every round.
   */
  async backlog(): Promise<{ rows: number; oldestAgeSeconds: number }> {
    if (this.stopped) throw new Error('the outbox relay is stopped');
    const r = await this.pool.query<{ rows: number; age: number | null }>({
      name: 'outbox-backlog',
      text: `SELECT count(*)::int AS rows, EXTRACT(EPOCH FROM now() - min(created_at))::float8 AS age
               FROM patch_transition_work WHERE published_at IS NULL`,
    });
    return { rows: r.rows[0]?.rows ?? 0, oldestAgeSeconds: Math.max(0, r.rows[0]?.age ?? 0) };
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.relayOnce().catch((err: unknown) => {
        this.logger.warn({ err: (err as Error).message }, 'outbox relay round failed');
        return 0;
      });
      void this.running.then((n) => this.schedule(n === this.options.batchSize ? 0 : this.options.intervalMs));
    }, delayMs);
  }

  /** One round; returns how many rows it published. */
  async relayOnce(): Promise<number> {
    // Postgres may end the connection mid-round (restart, failover): the round fails, nothing is
    // marked, and the next round on a fresh connection publishes the rows again (duplicates dropped).
    return withPoolClient(this.pool, async (client) => {
      try {
        await client.query('BEGIN');
        const claimed = await client.query<{ id: string; payload: WorkItem }>({
          name: 'outbox-claim',
          text: `SELECT id, payload FROM patch_transition_work
                  WHERE published_at IS NULL AND created_at < now() - make_interval(secs => $1::float8 / 1000)
                  ORDER BY created_at
                  LIMIT $2
                  FOR UPDATE SKIP LOCKED`,
          values: [this.options.graceMs, this.options.batchSize],
        });
        if (claimed.rowCount === 0) {
          await client.query('COMMIT');
          return 0;
        }
        const results = await Promise.allSettled(
          claimed.rows.map((r) => {
            // The row id is the work id, which `streamMessages.work` uses as Nats-Msg-Id.
            const send = () => this.bus.send(streamMessages.work, r.payload);
            // Published late, still with its transition's trace headers (the item carries the trace too).
            const trace = r.payload.trace;
            return trace ? withTrace(incomingTrace(trace.traceparent, trace.correlationId), send) : send();
          }),
        );
        const ok: { id: string; seq: number }[] = [];
        const failed: { id: string; error: string }[] = [];
        results.forEach((res, i) => {
          const id = claimed.rows[i]!.id;
          if (res.status === 'fulfilled') ok.push({ id, seq: res.value.seq });
          else failed.push({ id, error: String((res.reason as Error)?.message ?? res.reason) });
        });
        if (ok.length) {
          await client.query({
            name: 'outbox-relay-published',
            text: `UPDATE patch_transition_work w SET published_at = now(), stream_seq = b.seq,
                          publish_attempts = publish_attempts + 1, last_publish_error = NULL
                     FROM unnest($1::uuid[], $2::bigint[]) AS b(id, seq) WHERE w.id = b.id`,
            values: [ok.map((o) => o.id), ok.map((o) => o.seq)],
          });
        }
        if (failed.length) {
          await client.query({
            name: 'outbox-relay-failed',
            text: `UPDATE patch_transition_work w SET publish_attempts = publish_attempts + 1, last_publish_error = b.error
                     FROM unnest($1::uuid[], $2::text[]) AS b(id, error) WHERE w.id = b.id`,
            values: [failed.map((f) => f.id), failed.map((f) => f.error)],
          });
        }
        await client.query('COMMIT');
        if (ok.length)
          this.logger.info({ published: ok.length, workIds: ok.slice(0, 20).map((o) => o.id) }, 'outbox relay published work');
        if (failed.length) this.logger.warn({ failed: failed.length, error: failed[0]!.error }, 'outbox relay could not publish');
        return ok.length;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}

/**
 * The outbox gauges, read at scrape time (one query for both, at most 1 s, else they keep their
 * last value). The relay started last in this process is the one measured.
 */
function measureBacklog(relay: OutboxRelay, logger: Logger): void {
  let last: { at: number; read: Promise<{ rows: number; oldestAgeSeconds: number } | undefined> } | undefined;
  const read = () => {
    if (!last || Date.now() - last.at > 1000) {
      const onError = (err: unknown) =>
        logger.warn({ err: (err as Error).message }, 'could not read the outbox backlog for /metrics');
      last = { at: Date.now(), read: readWithin(1000, () => relay.backlog(), onError) };
    }
    return last.read;
  };
  gauge({
    name: 'outbox_backlog_rows',
    help: 'Committed work not yet published to the work stream (unpublished outbox rows), read at scrape time',
    collect: async (g) => {
      const b = await read();
      if (b) g.set(b.rows);
    },
  });
  gauge({
    name: 'outbox_oldest_unpublished_age_seconds',
    help: 'Age of the oldest unpublished outbox row (publish lag; 0 when the outbox is empty), read at scrape time',
    collect: async (g) => {
      const b = await read();
      if (b) g.set(b.oldestAgeSeconds);
    },
  });
}
