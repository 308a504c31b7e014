import { EntitySchema, BigIntType } from '@mikro-orm/core';
import type { ExecutionStatus, WorkflowName } from '@patchflow/contracts';

/** An ExecutionEvent as received; the unique eventId makes a redelivery or replay a no-op. */
export interface ExecutionEventRecord {
  eventId: string;
  workId: string;
  workflow: WorkflowName;
  patchId: string;
  status: ExecutionStatus;
  attempt: number;
  error: string | null;
  willRetry: boolean;
  deadLettered: boolean;
  /** When the workflow reported it (its clock, millisecond precision). */
  at: Date;
  /** When its attempt started (ExecutionEvent.startedAt); null for events from before it was sent. */
  startedAt: Date | null;
  /** Sequence in the workflow-events stream: the tie-break for equal times. */
  streamSeq: number;
}

export const ExecutionEventRecordSchema = new EntitySchema<ExecutionEventRecord>({
  name: 'ExecutionEventRecord',
  tableName: 'action_log_execution_event',
  indexes: [{ name: 'action_log_execution_event_exec_idx', properties: ['workId', 'workflow'] }],
  properties: {
    eventId: { type: 'uuid', primary: true },
    workId: { type: 'uuid' },
    workflow: { type: 'string' },
    patchId: { type: 'uuid' },
    status: { type: 'string' },
    attempt: { type: 'integer' },
    error: { type: 'text', nullable: true },
    willRetry: { type: 'boolean' },
    deadLettered: { type: 'boolean' },
    at: { type: 'Date' },
    startedAt: { type: 'Date', nullable: true },
    streamSeq: { type: new BigIntType('number') },
  },
});
