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
  properties: {
    id: { type: 'uuid', primary: true },
    transitionId: { type: 'uuid', unique: true },
    patchId: { type: 'uuid' },
    action: { type: 'text' },
    payload: { type: 'json' },
    createdAt: { type: 'Date', columnType: 'timestamptz' },
    publishedAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    streamSeq: { type: 'bigint', nullable: true },
    publishAttempts: { type: 'integer', default: 0 },
    lastPublishError: { type: 'text', nullable: true },
  },
});
