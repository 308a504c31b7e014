import { EntitySchema, type Opt } from '@mikro-orm/core';
import type { ActionName, WorkflowName } from '@patchflow/contracts';

/** running: claimed by a process until `leaseUntil`; retrying: a transient failure, will be
 * redelivered; succeeded: done, never redone; failed: dead-lettered. */
export const executionStatuses = ['running', 'retrying', 'succeeded', 'failed'] as const;
export type ExecutionRecordStatus = (typeof executionStatuses)[number];

/**
 * The idempotency record of one workflow's run of one work item, written before and after every
 * external call. Written on the hot path with plain SQL (execution-store.ts); declared here so
 * the migrations own the schema.
 */
export interface WorkflowExecution {
  workflow: WorkflowName;
  workId: string;
  action: ActionName;
  patchId: string;
  status: ExecutionRecordStatus;
  /** Runs of this item by this workflow, operator retries included. */
  attempts: number & Opt;
  lastError: string | null;
  /** External ids recorded as soon as they exist (GitLab pipeline, Jira comment): a rerun reads them and does not repeat the call. */
  externalRef: Record<string, unknown> & Opt;
  /** Until when the claiming process owns a `running` execution. */
  leaseUntil: Date | null;
  createdAt: Date & Opt;
  updatedAt: Date & Opt;
  /** The work item's sequence in the work stream (set on delivery): a replay by work id reads it from there. */
  workSeq: string | null;
  /** The operator who last forced or retried this execution by hand, and why (also a step in the history). */
  operatorActor: string | null;
  operatorReason: string | null;
}

export const WorkflowExecutionSchema = new EntitySchema<WorkflowExecution>({
  name: 'WorkflowExecution',
  tableName: 'workflow_execution',
  properties: {
    workflow: { type: 'text', primary: true },
    workId: { type: 'uuid', primary: true },
    action: { type: 'text' },
    patchId: { type: 'uuid' },
    // A text column with CHECK (status IN (…)), named workflow_execution_status_check as Postgres named the first schema's.
    status: { type: 'text', enum: true, items: () => [...executionStatuses] },
    attempts: { type: 'integer', default: 0 },
    lastError: { type: 'text', nullable: true },
    externalRef: { type: 'jsonb', defaultRaw: `'{}'::jsonb` },
    leaseUntil: { type: 'Date', columnType: 'timestamptz', nullable: true },
    createdAt: { type: 'Date', columnType: 'timestamptz', defaultRaw: 'now()' },
    updatedAt: { type: 'Date', columnType: 'timestamptz', defaultRaw: 'now()' },
    workSeq: { type: 'bigint', nullable: true },
    operatorActor: { type: 'text', nullable: true },
    operatorReason: { type: 'text', nullable: true },
  },
});
