import { Migration } from '@mikro-orm/migrations';

/**
 * Idempotency keys are scoped to the caller and bound to the request. A create's key is unique
 * per caller (`created_by`), not globally, so one caller's key never answers another caller with
 * the first one's patch; a transition's key stays unique per patch. Each keyed row stores the
 * fingerprint of the request that used the key (`src/request-fingerprint.ts`): the same key with
 * another request is refused (`idempotency_key_reused`). Rows written before this migration have
 * no fingerprint and replay when caller (and, for transitions, action) match, as before.
 */
export class Migration20261126010000_idempotency_scope extends Migration {
  override async up(): Promise<void> {
    this.addSql('ALTER TABLE patch ADD COLUMN idempotency_fingerprint text NULL');
    this.addSql('DROP INDEX patch_idempotency_key');
    this.addSql(
      'CREATE UNIQUE INDEX patch_idempotency_key ON patch (created_by, idempotency_key) WHERE idempotency_key IS NOT NULL',
    );
    // Adding a column rewrites no row, so the append-only triggers are not involved.
    this.addSql('ALTER TABLE patch_transition ADD COLUMN request_fingerprint text NULL');
  }

  override async down(): Promise<void> {
    this.addSql('ALTER TABLE patch_transition DROP COLUMN request_fingerprint');
    this.addSql('DROP INDEX patch_idempotency_key');
    this.addSql('CREATE UNIQUE INDEX patch_idempotency_key ON patch (idempotency_key) WHERE idempotency_key IS NOT NULL');
    this.addSql('ALTER TABLE patch DROP COLUMN idempotency_fingerprint');
  }
}
