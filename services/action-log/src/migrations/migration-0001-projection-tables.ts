import { Migration } from '@mikro-orm/migrations';

/** The projection's four tables. Every id column is the upstream id, so replays deduplicate. */
export class Migration0001ProjectionTables extends Migration {
  override up(): void {
    this.addSql(`create table "action_log_work" (
      "work_id" uuid not null primary key,
      "patch_id" uuid not null,
      "action" varchar(255) not null,
      "patch_version" int not null,
      "transition" jsonb not null,
      "workflows" jsonb not null,
      "stream_seq" bigint not null)`);
    this.addSql(`create index "action_log_work_patch_idx" on "action_log_work" ("patch_id")`);

    this.addSql(`create table "action_log_execution" (
      "work_id" uuid not null,
      "workflow" varchar(255) not null,
      "patch_id" uuid not null,
      "action" varchar(255) not null,
      "status" varchar(255) not null,
      "attempts" int not null,
      "last_error" text null,
      "will_retry" boolean not null,
      "dead_lettered" boolean not null,
      "started_at" timestamptz null,
      "finished_at" timestamptz null,
      constraint "action_log_execution_pkey" primary key ("work_id", "workflow"))`);
    this.addSql(`create index "action_log_execution_patch_idx" on "action_log_execution" ("patch_id")`);

    this.addSql(`create table "action_log_execution_event" (
      "event_id" uuid not null primary key,
      "work_id" uuid not null,
      "workflow" varchar(255) not null,
      "patch_id" uuid not null,
      "status" varchar(255) not null,
      "attempt" int not null,
      "error" text null,
      "will_retry" boolean not null,
      "dead_lettered" boolean not null,
      "at" timestamptz not null,
      "stream_seq" bigint not null)`);
    this.addSql(`create index "action_log_execution_event_exec_idx" on "action_log_execution_event" ("work_id", "workflow")`);

    this.addSql(`create table "action_log_step" (
      "event_id" uuid not null primary key,
      "work_id" uuid not null,
      "workflow" varchar(255) not null,
      "patch_id" uuid not null,
      "attempt" int not null,
      "subaction_type" varchar(255) not null,
      "message" text not null,
      "metadata" jsonb not null,
      "at" timestamptz not null,
      "stream_seq" bigint not null)`);
    this.addSql(`create index "action_log_step_exec_idx" on "action_log_step" ("work_id", "workflow")`);
  }

  override down(): void {
    for (const t of ['action_log_step', 'action_log_execution_event', 'action_log_execution', 'action_log_work']) {
      this.addSql(`drop table if exists "${t}"`);
    }
  }
}
