import { Migration } from '@mikro-orm/migrations';

/**
 * The list is sorted by the last change by default (`sort=updated`): keyset pages over
 * (updated_at, id), as `patch_list` serves `sort=created`. A name search (`q`, ILIKE on a
 * substring) filters the rows these indexes walk; it has no index of its own (a trigram index
 * would need the pg_trgm extension, and the list is paged and usually filtered by product).
 */
export class Migration20261126030000_list_by_updated extends Migration {
  override async up(): Promise<void> {
    this.addSql('CREATE INDEX patch_list_updated ON patch (updated_at DESC, id DESC)');
  }

  override async down(): Promise<void> {
    this.addSql('DROP INDEX patch_list_updated');
  }
}
