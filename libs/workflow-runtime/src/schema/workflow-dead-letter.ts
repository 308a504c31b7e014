import { EntitySchema, type Opt } from '@mikro-orm/core';
import type { WorkflowName } from '@patchflow/contracts';

/** The operators' list of work a workflow gave up on (one row per workflow and work item). */
export interface WorkflowDeadLetter {
  workflow: WorkflowName;
  workId: string;
  /** The whole work item, so a retry needs nothing from the work stream (it may have expired). */
  work: Record<string, unknown>;
  reason: string;
  attempts: number;
  deadLetteredAt: Date & Opt;
  /** Set when an operator retry succeeded: the dead letter is closed. */
  retriedAt: Date | null;
  retries: number & Opt;
  /** Set when an operator closed it without running it (`discardedBy`, `discardReason` say who and why). */
  discardedAt: Date | null;
  discardedBy: string | null;
  discardReason: string | null;
}

export const WorkflowDeadLetterSchema = new EntitySchema<WorkflowDeadLetter>({
  name: 'WorkflowDeadLetter',
  tableName: 'workflow_dead_letter',
  indexes: [
    {
      // Only open dead letters (neither retried nor discarded) are listed: a partial index keeps it to those.
      name: 'workflow_dead_letter_open',
      expression:
        'CREATE INDEX IF NOT EXISTS workflow_dead_letter_open ON workflow_dead_letter (workflow, dead_lettered_at) WHERE retried_at IS NULL AND discarded_at IS NULL',
    },
  ],
  properties: {
    workflow: { type: 'text', primary: true },
    workId: { type: 'uuid', primary: true },
    work: { type: 'jsonb' },
    reason: { type: 'text' },
    attempts: { type: 'integer' },
    deadLetteredAt: { type: 'Date', columnType: 'timestamptz', defaultRaw: 'now()' },
    retriedAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    retries: { type: 'integer', default: 0 },
    discardedAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
    discardedBy: { type: 'text', nullable: true },
    discardReason: { type: 'text', nullable: true },
  },
});
