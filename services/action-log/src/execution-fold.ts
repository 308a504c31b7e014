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
  /** When the event's attempt started (ExecutionEvent.startedAt); null on events from before it was sent. */
  startedAt?: Date | null;
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
 * When the earliest attempt of `facts` started: an event's `startedAt`, or for one without (sent
 * before the field existed) a `running` event's time. Undefined when none says.
 */
export function earliestStart(facts: readonly Pick<ExecutionFact, 'status' | 'at' | 'startedAt'>[]): Date | undefined {
  let earliest: Date | undefined;
  for (const f of facts) {
    const start = f.startedAt ?? (f.status === 'running' ? f.at : null);
    if (start && (!earliest || start < earliest)) earliest = start;
  }
  return earliest;
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
  const startedAt = earliestStart(sorted) ?? sorted[0]?.at ?? null;
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
