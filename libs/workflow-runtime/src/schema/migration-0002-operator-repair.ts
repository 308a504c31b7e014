import { Migration } from '@mikro-orm/migrations';

/**
 * Operator repair (patchctl replay, dlq discard, the UI's retry): where each execution's work item
 * sits in the work stream, who last acted on it by hand and why, and discarded dead letters.
 * An open dead letter is now one neither retried nor discarded.
 */
export class Migration0002OperatorRepair extends Migration {
  override up(): void {
    this.addSql(`ALTER TABLE workflow_execution
      ADD COLUMN work_seq bigint,
      ADD COLUMN operator_actor text,
      ADD COLUMN operator_reason text`);
    this.addSql(`ALTER TABLE workflow_dead_letter
      ADD COLUMN discarded_at timestamptz,
      ADD COLUMN discarded_by text,
      ADD COLUMN discard_reason text`);
    this.addSql('DROP INDEX IF EXISTS workflow_dead_letter_open');
    this.addSql(
      'CREATE INDEX workflow_dead_letter_open ON workflow_dead_letter (workflow, dead_lettered_at) WHERE retried_at IS NULL AND discarded_at IS NULL',
    );
  }

  override down(): void {
    this.addSql('DROP INDEX IF EXISTS workflow_dead_letter_open');
    this.addSql(
      'CREATE INDEX workflow_dead_letter_open ON workflow_dead_letter (workflow, dead_lettered_at) WHERE retried_at IS NULL',
    );
    this.addSql(`ALTER TABLE workflow_dead_letter
      DROP COLUMN discarded_at, DROP COLUMN discarded_by, DROP COLUMN discard_reason`);
    this.addSql(`ALTER TABLE workflow_execution
      DROP COLUMN work_seq, DROP COLUMN operator_actor, DROP COLUMN operator_reason`);
  }
}
