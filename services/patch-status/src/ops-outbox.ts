import type pg from 'pg';
import type { Bus } from '@patchflow/bus';
import { patchStatusOpsEndpoints, type ActionName, type OutboxRow } from '@patchflow/contracts';
import type { Logger } from '@patchflow/log';
import type { OutboxRelay } from './outbox-relay.js';

/** Unpublished rows, oldest first, and how many there are (the partial index on unpublished rows). */
async function readOutbox(pool: pg.Pool, limit: number): Promise<{ backlog: number; items: OutboxRow[] }> {
  const [count, rows] = await Promise.all([
    pool.query<{ n: number }>('SELECT count(*)::int AS n FROM patch_transition_work WHERE published_at IS NULL'),
    pool.query<{
      id: string;
      action: string;
      patch_id: string;
      created_at: Date;
      publish_attempts: number;
      last_publish_error: string | null;
    }>(
      `SELECT id, action, patch_id, created_at, publish_attempts, last_publish_error FROM patch_transition_work
        WHERE published_at IS NULL ORDER BY created_at LIMIT $1`,
      [limit],
    ),
  ]);
  return {
    backlog: count.rows[0]?.n ?? 0,
    items: rows.rows.map((r) => ({
      workId: r.id,
      action: r.action as ActionName,
      patchId: r.patch_id,
      createdAt: r.created_at.toISOString(),
      publishAttempts: r.publish_attempts,
      lastPublishError: r.last_publish_error,
    })),
  };
}

/**
 * Operators' view of the outbox (`patchctl outbox`) and a push that runs the relay now instead of
 * waiting for its next round (`patchctl outbox publish`), e.g. right after NATS is back. The push
 * runs relay rounds until one is not full; rows younger than the relay's grace stay with the
 * publish-after-commit path, as in every round.
 */
export function serveOutboxOps(bus: Bus, relay: OutboxRelay, pool: pg.Pool, batchSize: number, logger: Logger): void {
  bus.serve(patchStatusOpsEndpoints.listOutbox, (req) => readOutbox(pool, req.limit));
  bus.serve(patchStatusOpsEndpoints.publishOutbox, async () => {
    let published = 0;
    for (;;) {
      const n = await relay.relayOnce();
      published += n;
      if (n < batchSize) break;
    }
    const { backlog } = await readOutbox(pool, 1);
    logger.info({ published, backlog }, 'outbox pushed by an operator');
    return { published, backlog };
  });
}
