import { EntitySchema } from '@mikro-orm/core';
import type { ActionName, ExecutionViewStatus, WorkflowName } from '@patchflow/contracts';

/**
 * One workflow's run of one work item: a summary folded from its execution events and steps
 * (folded in SQL by projection.ts). Rewritten after every event, so it never depends on arrival order.
 */
export interface ExecutionRecord {
  workId: string;
  workflow: WorkflowName;
  patchId: string;
  action: ActionName;
  status: ExecutionViewStatus;
  /** Highest delivery attempt reported (0 while pending). */
  attempts: number;
  lastError: string | null;
  willRetry: boolean;
  deadLettered: boolean;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export const ExecutionRecordSchema = new EntitySchema<ExecutionRecord>({
  name: 'ExecutionRecord',
  tableName: 'action_log_execution',
  properties: {
    workId: { type: 'uuid', primary: true },
    workflow: { type: 'string', primary: true },
    patchId: { type: 'uuid', index: 'action_log_execution_patch_idx' },
    action: { type: 'string' },
    status: { type: 'string' },
    attempts: { type: 'integer' },
    lastError: { type: 'text', nullable: true },
    willRetry: { type: 'boolean' },
    deadLettered: { type: 'boolean' },
    startedAt: { type: 'Date', nullable: true },
    finishedAt: { type: 'Date', nullable: true },
  },
});
