import type { ExecutionStatus, ExecutionViewStatus } from '@patchflow/contracts';

/** What the fold needs of one execution event. */
export interface ExecutionFact {
  eventId: string;
  status: ExecutionStatus;
  attempt: number;
  error: string | null;
  willRetry: boolean;
  deadLettered: boolean;
  at: Date;
  streamSeq: number;
}

export interface ExecutionSummary {
  status: ExecutionViewStatus;
  attempts: number;
  lastError: string | null;
  willRetry: boolean;
  deadLettered: boolean;
  startedAt: Date | null;
  finishedAt: Date | null;
}

// `running` sorts before an outcome reported in the same millisecond of the same attempt.
const rank: Record<ExecutionStatus, number> = { running: 0, failed: 1, skipped: 2, succeeded: 2 };

function compareFacts(a: ExecutionFact, b: ExecutionFact): number {
  return (
    a.at.getTime() - b.at.getTime() ||
    a.attempt - b.attempt ||
    rank[a.status] - rank[b.status] ||
    a.streamSeq - b.streamSeq ||
    a.eventId.localeCompare(b.eventId)
  );
}

/**
 * The summary of one execution from everything known about it. A pure function of the *set* of
 * events (it sorts them itself), so the projection converges whatever order they arrive in, and
 * a rebuild from the streams gives the same row.
 *
 * `stepAttempts` is the highest attempt among the execution's logged steps (0 when none): a step
 * of a newer attempt than the latest execution event means that attempt is running.
 */
export function foldExecution(facts: readonly ExecutionFact[], stepAttempts: number): ExecutionSummary {
  const sorted = [...facts].sort(compareFacts);
  const latest = sorted.at(-1);
  const attempts = Math.max(stepAttempts, ...sorted.map((f) => f.attempt), 0);
  const lastError = [...sorted].reverse().find((f) => f.status === 'failed' && f.error)?.error ?? null;
  const startedAt = sorted.find((f) => f.status === 'running')?.at ?? sorted[0]?.at ?? null;
  if (!latest) {
    return {
      status: stepAttempts > 0 ? 'running' : 'pending',
      attempts,
      lastError: null,
      willRetry: false,
      deadLettered: false,
      startedAt: null,
      finishedAt: null,
    };
  }
  if (stepAttempts > latest.attempt || latest.status === 'running') {
    return { status: 'running', attempts, lastError, willRetry: false, deadLettered: false, startedAt, finishedAt: null };
  }
  const waiting = latest.status === 'failed' && latest.willRetry;
  return {
    status: latest.status,
    attempts,
    lastError,
    willRetry: latest.willRetry,
    deadLettered: latest.deadLettered,
    startedAt,
    finishedAt: waiting ? null : latest.at,
  };
}
