import { EntitySchema, BigIntType } from '@mikro-orm/core';
import type { WorkflowName } from '@patchflow/contracts';

/** One logged step (StepEvent) of an execution; the unique eventId deduplicates it. */
export interface StepRecord {
  eventId: string;
  workId: string;
  workflow: WorkflowName;
  patchId: string;
  attempt: number;
  /** e.g. `patch.workflow.startDeployment.createSuccessor` */
  subactionType: string;
  message: string;
  metadata: Record<string, unknown>;
  at: Date;
  /** Sequence in the workflow-events stream: steps with equal times keep their logged order. */
  streamSeq: number;
}

export const StepRecordSchema = new EntitySchema<StepRecord>({
  name: 'StepRecord',
  tableName: 'action_log_step',
  indexes: [{ name: 'action_log_step_exec_idx', properties: ['workId', 'workflow'] }],
  properties: {
    eventId: { type: 'uuid', primary: true },
    workId: { type: 'uuid' },
    workflow: { type: 'string' },
    patchId: { type: 'uuid' },
    attempt: { type: 'integer' },
    subactionType: { type: 'string' },
    message: { type: 'text' },
    metadata: { type: 'json' },
    at: { type: 'Date' },
    streamSeq: { type: new BigIntType('number') },
  },
});
