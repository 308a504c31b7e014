import { Migration } from '@mikro-orm/migrations';

/**
 * Idempotency keys are bound to the caller and the request. Each keyed row stores the fingerprint
 * of the request that used the key (`src/request-fingerprint.ts`); the key's owner is the row's
 * actor. The same key from another caller, or with another request, is refused
 * (`idempotency_key_reused`) — it never hands one caller another caller's result. Rows written
 * before this migration have no fingerprint and replay when caller (and, for transitions,
 * action) match.
 */
export class Migration20261126010000_idempotency_scope extends Migration {
  override async up(): Promise<void> {
    this.addSql('ALTER TABLE patch ADD COLUMN idempotency_fingerprint text NULL');
    // Adding a column rewrites no row, so the append-only triggers are not involved.
    this.addSql('ALTER TABLE patch_transition ADD COLUMN request_fingerprint text NULL');
  }

  override async down(): Promise<void> {
    this.addSql('ALTER TABLE patch_transition DROP COLUMN request_fingerprint');
    this.addSql('ALTER TABLE patch DROP COLUMN idempotency_fingerprint');
  }
}
