import { Migration } from '@mikro-orm/migrations';

/**
 * Messages the projection gave up on (see entities/parked-message.ts). Keyed by stream and
 * sequence: parking one message twice keeps one row. The reason's check is Postgres-named
 * `parked_message_reason_check`, as the entity's enum declares it.
 */
export class Migration0002ParkedMessages extends Migration {
  override up(): void {
    this.addSql(`create table "parked_message" (
      "stream" varchar(255) not null,
      "stream_seq" bigint not null,
      "subject" text not null,
      "consumer" varchar(255) not null,
      "reason" text check ("reason" in ('invalid', 'rejected', 'exhausted')) not null,
      "error" text not null,
      "deliveries" int not null,
      "data" bytea not null,
      "parked_at" timestamptz not null default now(),
      constraint "parked_message_pkey" primary key ("stream", "stream_seq"))`);
    this.addSql(`create index "parked_message_parked_at_idx" on "parked_message" ("parked_at")`);
  }

  override down(): void {
    this.addSql(`drop table if exists "parked_message"`);
  }
}
