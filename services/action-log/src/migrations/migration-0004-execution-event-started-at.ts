import { Migration } from '@mikro-orm/migrations';

/**
 * When each execution event's attempt started (entities/execution-event-record.ts): a workflow
 * reports `running` only for an attempt that runs a while, so its outcome says when it began.
 * Null for rows projected before.
 */
export class Migration0004ExecutionEventStartedAt extends Migration {
  override up(): void {
    this.addSql(`alter table "action_log_execution_event" add column "started_at" timestamptz null`);
  }

  override down(): void {
    this.addSql(`alter table "action_log_execution_event" drop column if exists "started_at"`);
  }
}
