import { Migration } from '@mikro-orm/migrations';

/**
 * workflow-jira's `jira_issue_position`, exactly as that service created it at first use before
 * it had a migration. `IF NOT EXISTS`, so a database where it already ran keeps its table and
 * rows. The advisory lock is the one that code took around its CREATE: a jira instance of the
 * old version starting during the upgrade waits instead of racing this statement.
 */
export class Migration0003JiraIssuePosition extends Migration {
  override up(): void {
    this.addSql("SELECT pg_advisory_xact_lock(hashtext('patchflow_jira_issue_position'))");
    this.addSql(`CREATE TABLE IF NOT EXISTS jira_issue_position (
      jira_key text NOT NULL,
      patch_id uuid NOT NULL,
      patch_version integer NOT NULL,
      action text NOT NULL,
      status text NOT NULL,
      moved_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (jira_key, patch_id))`);
  }

  override down(): void {
    this.addSql('DROP TABLE IF EXISTS jira_issue_position');
  }
}
