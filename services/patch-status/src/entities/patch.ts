import { EntitySchema, type Opt } from '@mikro-orm/core';
import type { PatchStatus } from '@patchflow/contracts';

/** The aggregate: one release bundle of a product moving through the lifecycle. */
export interface Patch {
  id: string;
  /** e.g. `2026.48.1`, unique per product; the successor workflow bumps the last number. */
  name: string;
  product: string;
  status: PatchStatus;
  /** Optimistic lock: +1 on every transition; `expectedVersion` is checked against it. */
  version: number;
  jiraKey: string | null;
  gitRef: string | null;
  /**
   * The patch this one succeeds; unique, so each patch has at most one successor. Set at create,
   * or once later when the successor workflow finds its successor's name created by hand.
   */
  predecessorId: string | null;
  /** A create request's idempotency key; unique per caller (`createdBy`), so a repeated create writes nothing. */
  idempotencyKey: string | null;
  /** The fingerprint of the create that used `idempotencyKey` (null for keyless and older rows). */
  idempotencyFingerprint: string | null;
  createdBy: string;
  createdAt: Date & Opt;
  updatedAt: Date & Opt;
}

/**
 * Every constraint and index below is created by the migrations under the same name; declaring
 * them here keeps `orm.schema.getUpdateSchemaSQL()` empty after migrating (a test asserts it), so
 * a generated migration never drops them. Partial and descending indexes are raw DDL
 * (`expression`), which MikroORM compares by name only — the test also compares their definitions.
 */
export const PatchEntity = new EntitySchema<Patch>({
  name: 'Patch',
  tableName: 'patch',
  indexes: [
    // Listing pages newest first, optionally filtered by status or product (keyset pagination).
    { name: 'patch_list', expression: 'CREATE INDEX patch_list ON patch (created_at DESC, id DESC)' },
    // … by the last change (the list's default `sort=updated`).
    { name: 'patch_list_updated', expression: 'CREATE INDEX patch_list_updated ON patch (updated_at DESC, id DESC)' },
    {
      name: 'patch_list_status',
      expression: 'CREATE INDEX patch_list_status ON patch (status, created_at DESC, id DESC)',
    },
    {
      name: 'patch_list_product',
      expression: 'CREATE INDEX patch_list_product ON patch (product, created_at DESC, id DESC)',
    },
  ],
  uniques: [
    // One patch of each name per product: a second create is `duplicate_patch`.
    { name: 'patch_product_name', expression: 'CREATE UNIQUE INDEX patch_product_name ON patch (product, name)' },
    // One successor per patch, whoever asks and with whatever key.
    {
      name: 'patch_one_successor',
      expression: 'CREATE UNIQUE INDEX patch_one_successor ON patch (predecessor_id) WHERE predecessor_id IS NOT NULL',
    },
    {
      // One owner per key: another caller sending it is refused, never answered with this patch.
      name: 'patch_idempotency_key',
      expression: 'CREATE UNIQUE INDEX patch_idempotency_key ON patch (idempotency_key) WHERE idempotency_key IS NOT NULL',
    },
  ],
  checks: [{ name: 'patch_version_check', expression: 'version > 0' }],
  properties: {
    id: { type: 'uuid', primary: true },
    name: { type: 'text' },
    product: { type: 'text' },
    status: { type: 'text' },
    version: { type: 'integer' },
    jiraKey: { type: 'text', nullable: true },
    gitRef: { type: 'text', nullable: true },
    // A relation only so that the foreign key is declared; `mapToPk` keeps the value a plain id.
    predecessorId: {
      kind: 'm:1',
      entity: 'Patch',
      mapToPk: true,
      fieldName: 'predecessor_id',
      nullable: true,
      foreignKeyName: 'patch_predecessor_id_fkey',
      updateRule: 'no action',
      deleteRule: 'no action',
    },
    idempotencyKey: { type: 'text', nullable: true },
    idempotencyFingerprint: { type: 'text', nullable: true },
    createdBy: { type: 'text' },
    createdAt: { type: 'Date', columnType: 'timestamptz', onCreate: () => new Date() },
    updatedAt: { type: 'Date', columnType: 'timestamptz', onCreate: () => new Date() },
  },
});
