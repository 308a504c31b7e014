import { z } from 'zod';
import { commonEnv, envInt } from '@patchflow/config';

export const PatchStatusEnv = z.object({
  ...commonEnv,
  /**
   * Optional: the same database as DATABASE_URL, as the role that owns the tables. When set,
   * migrations run with it (and it creates the database when missing), and DATABASE_URL may be a
   * role that owns nothing and holds only the grants of `src/db-roles.ts`. Unset: DATABASE_URL
   * does both.
   */
  MIGRATION_DATABASE_URL: z.url().optional(),
  /** Connections for the transition write path (plain pg) and, separately, for MikroORM. */
  PATCH_STATUS_DB_POOL_SIZE: envInt(1, 200).default(16),
  /** Most transitions one write statement carries (concurrent transitions share a round trip). */
  TRANSITION_BATCH_MAX: envInt(1, 1000).default(64),
  /**
   * Transition statements of each kind in flight at once; callers beyond wait for the next batch.
   * A lone caller never waits. 1 (measured best here: bigger batches, fewer socket writes and
   * commits, and batches of one instance never contend for the same rows); more = more
   * connections busy at once.
   */
  TRANSITION_BATCH_IN_FLIGHT: envInt(1, 64).default(1),
  /** How often the outbox relay looks for work that was committed but not published. */
  OUTBOX_RELAY_INTERVAL_MS: envInt(10, 600_000).default(1000),
  /**
   * The relay leaves rows younger than this to the publish-after-commit path, so the two rarely
   * publish the same item (a double publish is harmless anyway: Nats-Msg-Id deduplicates).
   */
  OUTBOX_RELAY_GRACE_MS: envInt(0, 600_000).default(3000),
  /** Rows one relay round claims (FOR UPDATE SKIP LOCKED) and publishes. */
  OUTBOX_RELAY_BATCH: envInt(1, 10_000).default(500),
});
export type PatchStatusEnv = z.infer<typeof PatchStatusEnv>;
