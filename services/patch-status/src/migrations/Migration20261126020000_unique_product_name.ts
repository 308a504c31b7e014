import { Migration } from '@mikro-orm/migrations';

/**
 * A product has one patch of each name: `payments 2026.48.1` created twice was two identical rows
 * in the list. A create of an existing product + name is now refused (`duplicate_patch`, HTTP 409).
 *
 * Existing duplicates are not renamed or deleted here: patches are referenced by transitions that
 * cannot change, by Jira tickets and pipelines, and which copy to keep is a person's call. The
 * migration stops with a message naming each duplicate (product, name, ids oldest first) and the
 * statement that renames one; nothing is changed (the migration runs in a transaction), and the
 * service starts once the names are unique.
 */
export class Migration20261126020000_unique_product_name extends Migration {
  override async up(): Promise<void> {
    this.addSql(`DO $$
DECLARE
  found text;
  groups integer;
BEGIN
  SELECT count(*), string_agg(format('%s %s (%s)', product, name, ids), '; ')
    INTO groups, found
    FROM (
      SELECT product, name, string_agg(id::text, ', ' ORDER BY created_at, id) AS ids
        FROM patch GROUP BY product, name HAVING count(*) > 1
        ORDER BY product, name LIMIT 20
    ) d;
  IF groups > 0 THEN
    RAISE EXCEPTION 'cannot make patch names unique per product: duplicates exist: %', found
      USING HINT = 'keep one patch of each name and rename the others, e.g. '
        'UPDATE patch SET name = name || ''-dup'' WHERE id = ''<id>''; then start patch-status again';
  END IF;
END $$`);
    this.addSql('CREATE UNIQUE INDEX patch_product_name ON patch (product, name)');
  }

  override async down(): Promise<void> {
    this.addSql('DROP INDEX patch_product_name');
  }
}
