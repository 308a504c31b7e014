import { EntitySchema, type Opt } from '@mikro-orm/core';
import type { PatchStatus } from '@patchflow/contracts';

/** The aggregate: one release bundle of a product moving through the lifecycle. */
export interface Patch {
  id: string;
  /** e.g. `2026.48.1`; the successor workflow bumps the last number. */
  name: string;
  product: string;
  status: PatchStatus;
  /** Optimistic lock: +1 on every transition; `expectedVersion` is checked against it. */
  version: number;
  jiraKey: string | null;
  gitRef: string | null;
  /** The patch this one succeeds; unique, so each patch has at most one successor. */
  predecessorId: string | null;
  /** A create request's idempotency key; unique, so a repeated create writes nothing. */
  idempotencyKey: string | null;
  createdBy: string;
  createdAt: Date & Opt;
  updatedAt: Date & Opt;
}

export const PatchEntity = new EntitySchema<Patch>({
  name: 'Patch',
  tableName: 'patch',
  properties: {
    id: { type: 'uuid', primary: true },
    name: { type: 'text' },
    product: { type: 'text' },
    status: { type: 'text' },
    version: { type: 'integer' },
    jiraKey: { type: 'text', nullable: true },
    gitRef: { type: 'text', nullable: true },
    predecessorId: { type: 'uuid', nullable: true },
    idempotencyKey: { type: 'text', nullable: true },
    createdBy: { type: 'text' },
    createdAt: { type: 'Date', columnType: 'timestamptz', onCreate: () => new Date() },
    updatedAt: { type: 'Date', columnType: 'timestamptz', onCreate: () => new Date() },
  },
});
