import { EntitySchema, BigIntType } from '@mikro-orm/core';
import type { ActionName, TransitionView, WorkflowName } from '@patchflow/contracts';

/** A work item the action-log has seen: one per committed transition (deduplicated by workId). */
export interface WorkRecord {
  /** The outbox row's id; also the work message's Nats-Msg-Id. */
  workId: string;
  patchId: string;
  action: ActionName;
  /** The patch version the transition produced: orders a patch's history and pages it. */
  patchVersion: number;
  /** The TransitionView as the work item carried it (immutable once written). */
  transition: TransitionView;
  /** The workflows routed when the transition committed; each gets a pending execution. */
  workflows: WorkflowName[];
  /** Sequence in the work stream, for operators comparing with `nats stream view`. */
  streamSeq: number;
  /** The transition's W3C trace id (`WorkItem.trace`); null for work published before tracing. */
  traceId: string | null;
}

export const WorkRecordSchema = new EntitySchema<WorkRecord>({
  name: 'WorkRecord',
  tableName: 'action_log_work',
  properties: {
    workId: { type: 'uuid', primary: true },
    patchId: { type: 'uuid', index: 'action_log_work_patch_idx' },
    action: { type: 'string' },
    patchVersion: { type: 'integer' },
    transition: { type: 'json' },
    workflows: { type: 'json' },
    streamSeq: { type: new BigIntType('number') },
    traceId: { type: 'string', length: 32, nullable: true },
  },
});
