import { EntitySchema } from '@mikro-orm/core';
import type { ActionName, WorkItem } from '@patchflow/contracts';

/**
 * What needs to be done: the outbox row, written in the same statement as its transition.
 * `payload` is the exact WorkItem message; `publishedAt` is set once JetStream acknowledged it
 * (the relay publishes every row still null after a grace period).
 */
export interface PatchTransitionWork {
  id: string;
  transitionId: string;
  patchId: string;
  action: ActionName;
  payload: WorkItem;
  createdAt: Date;
  publishedAt: Date | null;
  /** Stream sequence JetStream gave the message (for operators tracing a work item). */
  streamSeq: string | null;
  publishAttempts: number;
  lastPublishError: string | null;
}

export const PatchTransitionWorkEntity = new EntitySchema<PatchTransitionWork>({
  name: 'PatchTransitionWork',
  tableName: 'patch_transition_work',
  indexes: [
    // The relay only ever looks at unpublished rows: keep that index tiny.
    {
      name: 'patch_transition_work_unpublished',
      expression:
        'CREATE INDEX patch_transition_work_unpublished ON patch_transition_work (created_at) WHERE published_at IS NULL',
    },
  ],
  properties: {
    id: { type: 'uuid', primary: true },
    // Relations only so that the foreign keys are declared; `mapToPk` keeps the values plain ids.
    transitionId: {
      kind: 'm:1',
      entity: 'PatchTransition',
      mapToPk: true,
      fieldName: 'transition_id',
      unique: 'patch_transition_work_transition_id_key',
      foreignKeyName: 'patch_transition_work_transition_id_fkey',
      updateRule: 'no action',
      deleteRule: 'no action',
    },
    patchId: {
      kind: 'm:1',
      entity: 'Patch',
      mapToPk: true,
      fieldName: 'patch_id',
      foreignKeyName: 'patch_transition_work_patch_id_fkey',
      updateRule: 'no action',
      deleteRule: 'no action',
    },
    action: { type: 'text' },
    payload: { type: 'json' },
    createdAt: { type: 'Date', columnType: 'timestamptz' },
    publishedAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    streamSeq: { type: 'bigint', nullable: true },
    publishAttempts: { type: 'integer', default: 0 },
    lastPublishError: { type: 'text', nullable: true },
  },
});
