import { EntitySchema } from '@mikro-orm/core';
import type { ActionName, PatchStatus } from '@patchflow/contracts';

/**
 * What happened: "patch P moved from A to B via action X by actor U at T". Immutable — written
 * once by the transition statement, never updated. `(patchId, patchVersion)` is unique, which is
 * what makes two concurrent transitions of one patch impossible to both commit.
 */
export interface PatchTransition {
  id: string;
  patchId: string;
  action: ActionName;
  fromStatus: PatchStatus;
  toStatus: PatchStatus;
  actor: string;
  reason: string | null;
  /** The patch version this transition produced. */
  patchVersion: number;
  /** Unique per patch: a repeated request with the same key returns this transition. */
  idempotencyKey: string | null;
  /** The fingerprint of the request that used `idempotencyKey` (null for keyless and older rows). */
  requestFingerprint: string | null;
  createdAt: Date;
}

export const PatchTransitionEntity = new EntitySchema<PatchTransition>({
  name: 'PatchTransition',
  tableName: 'patch_transition',
  readonly: true,
  uniques: [
    // Two concurrent transitions of one patch cannot both produce the same version.
    { name: 'patch_transition_version', properties: ['patchId', 'patchVersion'] },
    { name: 'patch_transition_idempotency', properties: ['patchId', 'idempotencyKey'] },
  ],
  properties: {
    id: { type: 'uuid', primary: true },
    // A relation only so that the foreign key is declared; `mapToPk` keeps the value a plain id.
    patchId: {
      kind: 'm:1',
      entity: 'Patch',
      mapToPk: true,
      fieldName: 'patch_id',
      foreignKeyName: 'patch_transition_patch_id_fkey',
      updateRule: 'no action',
      deleteRule: 'no action',
    },
    action: { type: 'text' },
    fromStatus: { type: 'text' },
    toStatus: { type: 'text' },
    actor: { type: 'text' },
    reason: { type: 'text', nullable: true },
    patchVersion: { type: 'integer' },
    idempotencyKey: { type: 'text', nullable: true },
    requestFingerprint: { type: 'text', nullable: true },
    createdAt: { type: 'Date', columnType: 'timestamptz' },
  },
});
