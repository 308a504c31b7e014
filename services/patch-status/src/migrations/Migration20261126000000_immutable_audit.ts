import { Migration } from '@mikro-orm/migrations';

/** Columns of a work row that the outbox relay and publisher keep up to date. */
const WORK_BOOKKEEPING = ['published_at', 'stream_seq', 'publish_attempts', 'last_publish_error'];
/** Everything else in a work row: what was decided, which must never change after the commit. */
const WORK_IMMUTABLE = ['id', 'transition_id', 'patch_id', 'action', 'payload', 'created_at'];

/**
 * The audit trail is immutable in Postgres, whoever connects: a transition is never updated,
 * deleted or truncated, and a work item is never deleted and its payload and identity never change
 * (its bookkeeping columns stay updatable: the publisher and relay record publishes there). Application privileges (see
 * `src/db-roles.ts`) are the first line; these triggers hold even for a role that has them.
 *
 * MikroORM does not model triggers, so they live only here (the schema diff never mentions them).
 */
export class Migration20261126000000_immutable_audit extends Migration {
  override async up(): Promise<void> {
    // 23001 restrict_violation: an integrity rule, not a bug — callers and operators see the message.
    this.addSql(`
      CREATE FUNCTION patchflow_refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        RAISE EXCEPTION '% on % refused: %', TG_OP, TG_TABLE_NAME, TG_ARGV[0]
          USING ERRCODE = 'restrict_violation';
      END
      $fn$`);
    const transitionRule = `'patch_transition is append-only (the audit trail is immutable)'`;
    this.addSql(`
      CREATE TRIGGER patch_transition_append_only BEFORE UPDATE OR DELETE ON patch_transition
        FOR EACH ROW EXECUTE FUNCTION patchflow_refuse_audit_change(${transitionRule})`);
    this.addSql(`
      CREATE TRIGGER patch_transition_no_truncate BEFORE TRUNCATE ON patch_transition
        FOR EACH STATEMENT EXECUTE FUNCTION patchflow_refuse_audit_change(${transitionRule})`);
    // WHEN keeps the common update (marking a row published) free of any function call.
    const changed = WORK_IMMUTABLE.map((c) => `OLD.${c} IS DISTINCT FROM NEW.${c}`).join(' OR ');
    this.addSql(`
      CREATE TRIGGER patch_transition_work_immutable BEFORE UPDATE ON patch_transition_work
        FOR EACH ROW WHEN (${changed})
        EXECUTE FUNCTION patchflow_refuse_audit_change(
          'a work item''s ${WORK_IMMUTABLE.join(', ')} never change; only ${WORK_BOOKKEEPING.join(', ')} may')`);
    const workRule = `'work items are part of the audit trail and are never removed'`;
    this.addSql(`
      CREATE TRIGGER patch_transition_work_no_delete BEFORE DELETE ON patch_transition_work
        FOR EACH ROW EXECUTE FUNCTION patchflow_refuse_audit_change(${workRule})`);
    this.addSql(`
      CREATE TRIGGER patch_transition_work_no_truncate BEFORE TRUNCATE ON patch_transition_work
        FOR EACH STATEMENT EXECUTE FUNCTION patchflow_refuse_audit_change(${workRule})`);
  }

  override async down(): Promise<void> {
    this.addSql('DROP TRIGGER patch_transition_work_no_truncate ON patch_transition_work');
    this.addSql('DROP TRIGGER patch_transition_work_no_delete ON patch_transition_work');
    this.addSql('DROP TRIGGER patch_transition_work_immutable ON patch_transition_work');
    this.addSql('DROP TRIGGER patch_transition_no_truncate ON patch_transition');
    this.addSql('DROP TRIGGER patch_transition_append_only ON patch_transition');
    this.addSql('DROP FUNCTION patchflow_refuse_audit_change()');
  }
}
