import { Migration } from '@mikro-orm/migrations';

/** Patches, their immutable transitions, and the transition work outbox. */
export class Migration20261125000000_initial extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      CREATE TABLE patch (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        product text NOT NULL,
        status text NOT NULL,
        version integer NOT NULL CHECK (version > 0),
        jira_key text NULL,
        git_ref text NULL,
        predecessor_id uuid NULL REFERENCES patch (id),
        idempotency_key text NULL,
        created_by text NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      )`);
    this.addSql('CREATE UNIQUE INDEX patch_one_successor ON patch (predecessor_id) WHERE predecessor_id IS NOT NULL');
    this.addSql('CREATE UNIQUE INDEX patch_idempotency_key ON patch (idempotency_key) WHERE idempotency_key IS NOT NULL');
    this.addSql('CREATE INDEX patch_list ON patch (created_at DESC, id DESC)');
    this.addSql('CREATE INDEX patch_list_status ON patch (status, created_at DESC, id DESC)');
    this.addSql('CREATE INDEX patch_list_product ON patch (product, created_at DESC, id DESC)');
    this.addSql(`
      CREATE TABLE patch_transition (
        id uuid PRIMARY KEY,
        patch_id uuid NOT NULL REFERENCES patch (id),
        action text NOT NULL,
        from_status text NOT NULL,
        to_status text NOT NULL,
        actor text NOT NULL,
        reason text NULL,
        patch_version integer NOT NULL,
        idempotency_key text NULL,
        created_at timestamptz NOT NULL,
        CONSTRAINT patch_transition_version UNIQUE (patch_id, patch_version),
        CONSTRAINT patch_transition_idempotency UNIQUE (patch_id, idempotency_key)
      )`);
    this.addSql(`
      CREATE TABLE patch_transition_work (
        id uuid PRIMARY KEY,
        transition_id uuid NOT NULL UNIQUE REFERENCES patch_transition (id),
        patch_id uuid NOT NULL REFERENCES patch (id),
        action text NOT NULL,
        payload jsonb NOT NULL,
        created_at timestamptz NOT NULL,
        published_at timestamptz NULL,
        stream_seq bigint NULL,
        publish_attempts integer NOT NULL DEFAULT 0,
        last_publish_error text NULL
      )`);
    // The relay only ever looks at unpublished rows: keep that index tiny.
    this.addSql(
      'CREATE INDEX patch_transition_work_unpublished ON patch_transition_work (created_at) WHERE published_at IS NULL',
    );
  }

  override async down(): Promise<void> {
    this.addSql('DROP TABLE patch_transition_work');
    this.addSql('DROP TABLE patch_transition');
    this.addSql('DROP TABLE patch');
  }
}
