import { Migration } from '@mikro-orm/migrations';

/**
 * The trace id of each work item (entities/work-record.ts): the history shows it, so one
 * transition can be followed through every service's log by it. Null for rows projected before.
 */
export class Migration0003WorkTraceId extends Migration {
  override up(): void {
    this.addSql(`alter table "action_log_work" add column "trace_id" varchar(32) null`);
  }

  override down(): void {
    this.addSql(`alter table "action_log_work" drop column if exists "trace_id"`);
  }
}
