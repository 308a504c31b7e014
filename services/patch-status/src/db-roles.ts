import pg from 'pg';

/**
 * What the service's own Postgres role needs when it runs as a role that owns nothing (the
 * tables belong to the role that runs migrations, `MIGRATION_DATABASE_URL`). No DELETE, no
 * TRUNCATE, no UPDATE of transitions, and UPDATE of a work row only in its bookkeeping columns:
 * the audit trail's immutability holds by privilege first, and by the triggers of the
 * `immutable_audit` migration even for a role that has more.
 *
 * A DBA runs these once per database (after `CREATE ROLE <role> LOGIN PASSWORD '…'`); the tests
 * run exactly these.
 */
export function appRoleGrants(role: string): string[] {
  const r = pg.escapeIdentifier(role);
  return [
    `GRANT USAGE ON SCHEMA public TO ${r}`,
    `GRANT SELECT, INSERT ON patch, patch_transition, patch_transition_work TO ${r}`,
    // A transition moves the patch: status, version (the optimistic lock) and updated_at.
    `GRANT UPDATE (status, version, updated_at) ON patch TO ${r}`,
    // The successor workflow links a patch created by hand under the successor's name (once: only while null).
    `GRANT UPDATE (predecessor_id) ON patch TO ${r}`,
    // Publisher and relay record what JetStream acknowledged, and failed attempts.
    `GRANT UPDATE (published_at, stream_seq, publish_attempts, last_publish_error) ON patch_transition_work TO ${r}`,
  ];
}
