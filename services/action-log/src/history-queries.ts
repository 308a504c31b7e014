import type { EntityManager } from '@mikro-orm/postgresql';
import {
  ContractError,
  historyCursor,
  isFinalExecution,
  isOpenFailure,
  STEP_LINK_KEY,
  StepLink,
  type ActionLogHistoryResult,
  type AttemptView,
  type EffectRef,
  type ExecutionView,
  type FailingPatchesResult,
  type FailureCountsResult,
  type WorkflowName,
  type WorkView,
} from '@patchflow/contracts';
import {
  ExecutionEventRecordSchema,
  ExecutionRecordSchema,
  StepRecordSchema,
  WorkRecordSchema,
  type ExecutionEventRecord,
  type ExecutionRecord,
  type StepRecord,
  type WorkRecord,
} from './entities/index.js';
import type { ActionLogOrm } from './orm.js';

/** Reads of the projection for the request-reply endpoints; a fresh EntityManager per request. */
export class HistoryQueries {
  constructor(private readonly orm: ActionLogOrm) {}

  /** A patch's work items (transitions) oldest first, each with its executions and steps. */
  async history(patchId: string, limit: number, cursor: string | undefined): Promise<ActionLogHistoryResult> {
    const em = this.orm.em.fork();
    const after = cursor === undefined ? 0 : historyCursor.decode(cursor);
    if (after === undefined) throw ContractError.validation([{ path: 'cursor', message: 'not a cursor this service issued' }]);
    const works = await em.find(
      WorkRecordSchema,
      { patchId, patchVersion: { $gt: after } },
      { orderBy: { patchVersion: 'asc', workId: 'asc' }, limit: limit + 1 },
    );
    const page = works.slice(0, limit);
    const entries = await this.views(em, page);
    const last = page.at(-1);
    // The whole patch, beyond this page: which work items are known, what runs and what failed.
    const known = await em.find(
      WorkRecordSchema,
      { patchId },
      { fields: ['workId'], orderBy: { patchVersion: 'asc', workId: 'asc' } },
    );
    const open = await em.find(
      ExecutionRecordSchema,
      { patchId, status: { $in: ['pending', 'running', 'failed'] } },
      { orderBy: { workId: 'asc', workflow: 'asc' } },
    );
    const ref = (e: ExecutionRecord): EffectRef => ({ workId: e.workId, action: e.action, workflow: e.workflow });
    return {
      patchId,
      entries,
      nextCursor: works.length > limit && last ? historyCursor.encode(last.patchVersion) : null,
      knownWorkIds: known.map((w) => w.workId),
      open: { running: open.filter((e) => !isFinalExecution(e)).map(ref), failed: open.filter(isOpenFailure).map(ref) },
    };
  }

  /** Open failures (final failed or dead-lettered executions) of each of `patchIds` that has any. */
  async failureCounts(patchIds: string[]): Promise<FailureCountsResult> {
    if (patchIds.length === 0) return { counts: {} };
    const rows = await this.orm.em
      .fork()
      .getConnection()
      .execute<{ patch_id: string; failures: number }[]>(
        `select patch_id, count(*)::int as failures from action_log_execution
          where patch_id in (${patchIds.map(() => '?').join(', ')}) and status = 'failed' and not will_retry group by patch_id`,
        patchIds,
      );
    return { counts: Object.fromEntries(rows.map((r) => [r.patch_id, Number(r.failures)])) };
  }

  /**
   * The patches with an open failure, the most recent failure first, at most `limit`. A scan of
   * the failed executions (no index of its own: one would cost every projection write).
   */
  async failingPatches(limit: number): Promise<FailingPatchesResult> {
    const rows = await this.orm.em
      .fork()
      .getConnection()
      .execute<{ patch_id: string }[]>(
        `select patch_id from action_log_execution where status = 'failed' and not will_retry
          group by patch_id order by max(finished_at) desc nulls last, patch_id limit ?`,
        [limit + 1],
      );
    return { patchIds: rows.slice(0, limit).map((r) => r.patch_id), truncated: rows.length > limit };
  }

  /** One work item with its executions; also answers while only its events have arrived. */
  async work(workId: string): Promise<WorkView> {
    const em = this.orm.em.fork();
    const record = await em.findOne(WorkRecordSchema, { workId });
    if (record) {
      const [view] = await this.views(em, [record]);
      if (view) return view;
    }
    const executions = await em.find(ExecutionRecordSchema, { workId }, { orderBy: { workflow: 'asc' } });
    const first = executions[0];
    if (!first) throw new ContractError('not_found', `work item ${workId} is not in the action log`, { workId });
    const steps = await em.find(StepRecordSchema, { workId }, { orderBy: { at: 'asc', streamSeq: 'asc' } });
    const events = await em.find(ExecutionEventRecordSchema, { workId });
    return {
      workId,
      patchId: first.patchId,
      action: first.action,
      transition: null,
      workflows: [],
      executions: executions.map((e) => executionView(e, steps, events)),
    };
  }

  private async views(em: EntityManager, works: WorkRecord[]): Promise<WorkView[]> {
    if (works.length === 0) return [];
    const workIds = works.map((w) => w.workId);
    const executions = await em.find(ExecutionRecordSchema, { workId: { $in: workIds } });
    const steps = await em.find(StepRecordSchema, { workId: { $in: workIds } }, { orderBy: { at: 'asc', streamSeq: 'asc' } });
    const events = await em.find(ExecutionEventRecordSchema, { workId: { $in: workIds } });
    return works.map((w) => {
      // Routed workflows first in routing order, then any that reported without being routed.
      const order = (name: WorkflowName) => {
        const i = w.workflows.indexOf(name);
        return i === -1 ? w.workflows.length : i;
      };
      const own = executions
        .filter((e) => e.workId === w.workId)
        .sort((a, b) => order(a.workflow) - order(b.workflow) || a.workflow.localeCompare(b.workflow));
      return {
        workId: w.workId,
        patchId: w.patchId,
        action: w.action,
        transition: w.transition,
        workflows: w.workflows,
        executions: own.map((e) => executionView(e, steps, events)),
        ...(w.traceId ? { traceId: w.traceId } : {}),
      };
    });
  }
}

// `running` sorts before an outcome reported in the same millisecond of the same attempt (as in
// projection.ts's FACT_ORDER, the fold of an execution's summary).
const rank = { running: 0, failed: 1, skipped: 2, succeeded: 2 } as const;

/**
 * When the earliest of `events` says its attempt started: an event's `startedAt`, or for one
 * without (sent before the field existed) a `running` event's time. Undefined when none says.
 */
function earliestStart(events: readonly Pick<ExecutionEventRecord, 'status' | 'at' | 'startedAt'>[]): Date | undefined {
  let earliest: Date | undefined;
  for (const e of events) {
    const start = e.startedAt ?? (e.status === 'running' ? e.at : null);
    if (start && (!earliest || start < earliest)) earliest = start;
  }
  return earliest;
}

/**
 * Every attempt of one execution, from its stored execution events (its outcome, which says when
 * it started, and `running` if it ran a while — events from before `startedAt` was sent always
 * have one) and, for an attempt that has logged steps but no event yet, its first step. An
 * attempt whose latest event is `running`, or that has steps but no event, is still running.
 */
export function attemptList(events: readonly ExecutionEventRecord[], steps: readonly StepRecord[]): AttemptView[] {
  const byAttempt = new Map<number, { events: ExecutionEventRecord[]; firstStep: Date | null }>();
  const slot = (n: number) => {
    let s = byAttempt.get(n);
    if (!s) byAttempt.set(n, (s = { events: [], firstStep: null }));
    return s;
  };
  for (const e of events) slot(e.attempt).events.push(e);
  for (const s of steps) {
    const a = slot(s.attempt);
    if (!a.firstStep || s.at < a.firstStep) a.firstStep = s.at;
  }
  return [...byAttempt.entries()]
    .sort(([a], [b]) => a - b)
    .map(([attempt, { events: list, firstStep }]): AttemptView => {
      const sorted = [...list].sort(
        (a, b) => a.at.getTime() - b.at.getTime() || rank[a.status] - rank[b.status] || a.streamSeq - b.streamSeq,
      );
      const latest = sorted.at(-1);
      const started = earliestStart(sorted) ?? sorted[0]?.at ?? firstStep!;
      const begin = firstStep && firstStep < started ? firstStep : started;
      if (!latest || latest.status === 'running') {
        return { attempt, startedAt: begin.toISOString(), finishedAt: null, outcome: 'running', error: null };
      }
      return {
        attempt,
        startedAt: begin.toISOString(),
        finishedAt: latest.at.toISOString(),
        outcome: latest.status,
        error: latest.status === 'failed' ? (latest.error ?? null) : null,
      };
    });
}

/** The links logged in the steps' metadata (STEP_LINK_KEY), each URL once; anything not an http(s) link is left out. */
export function linksOf(steps: readonly StepRecord[]): StepLink[] {
  const links = new Map<string, StepLink>();
  for (const s of steps) {
    const link = StepLink.safeParse(s.metadata[STEP_LINK_KEY]);
    if (link.success && !links.has(link.data.url)) links.set(link.data.url, link.data);
  }
  return [...links.values()];
}

function executionView(e: ExecutionRecord, allSteps: StepRecord[], allEvents: ExecutionEventRecord[]): ExecutionView {
  const steps = allSteps.filter((s) => s.workId === e.workId && s.workflow === e.workflow);
  const events = allEvents.filter((x) => x.workId === e.workId && x.workflow === e.workflow);
  return {
    workId: e.workId,
    workflow: e.workflow,
    status: e.status,
    attempts: e.attempts,
    lastError: e.lastError,
    willRetry: e.willRetry,
    deadLettered: e.deadLettered,
    startedAt: e.startedAt?.toISOString() ?? null,
    finishedAt: e.finishedAt?.toISOString() ?? null,
    durationMs: e.startedAt && e.finishedAt ? Math.max(0, e.finishedAt.getTime() - e.startedAt.getTime()) : null,
    attemptList: attemptList(events, steps),
    links: linksOf(steps),
    steps: steps.map((s) => ({
      eventId: s.eventId,
      subactionType: s.subactionType,
      message: s.message,
      metadata: s.metadata,
      attempt: s.attempt,
      at: s.at.toISOString(),
    })),
  };
}
