import { Migration } from '@mikro-orm/migrations';

/**
 * The first schema, exactly as `execution-store.ts` created it before migrations existed. Every
 * statement is `IF NOT EXISTS`, so a database made by that code is adopted as it is: this
 * migration then only records itself.
 */
export class Migration0001ExecutionTables extends Migration {
  override up(): void {
    this.addSql(`CREATE TABLE IF NOT EXISTS workflow_execution (
      workflow      text        NOT NULL,
      work_id       uuid        NOT NULL,
      action        text        NOT NULL,
      patch_id      uuid        NOT NULL,
      status        text        NOT NULL CHECK (status IN ('running', 'retrying', 'succeeded', 'failed')),
      attempts      integer     NOT NULL DEFAULT 0,
      last_error    text,
      external_ref  jsonb       NOT NULL DEFAULT '{}'::jsonb,
      lease_until   timestamptz,
      created_at    timestamptz NOT NULL DEFAULT now(),
      updated_at    timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (workflow, work_id))`);
    this.addSql(`CREATE TABLE IF NOT EXISTS workflow_dead_letter (
      workflow          text        NOT NULL,
      work_id           uuid        NOT NULL,
      work              jsonb       NOT NULL,
      reason            text        NOT NULL,
      attempts          integer     NOT NULL,
      dead_lettered_at  timestamptz NOT NULL DEFAULT now(),
      retried_at        timestamptz,
      retries           integer     NOT NULL DEFAULT 0,
      PRIMARY KEY (workflow, work_id))`);
    this.addSql(
      'CREATE INDEX IF NOT EXISTS workflow_dead_letter_open ON workflow_dead_letter (workflow, dead_lettered_at) WHERE retried_at IS NULL',
    );
  }

  override down(): void {
    this.addSql('DROP TABLE IF EXISTS workflow_dead_letter');
    this.addSql('DROP TABLE IF EXISTS workflow_execution');
  }
}
