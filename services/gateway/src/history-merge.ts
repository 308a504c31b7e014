import {
  combinedEffects,
  historyCursor,
  settlementOf,
  workflowsFor,
  type ActionLogHistoryResult,
  type EffectRef,
  type ExecutionView,
  type HistoryEntry,
  type PatchHistoryPage,
  type PatchHistoryResult,
  type StatusSpan,
  type TransitionView,
  type WorkflowName,
  type WorkView,
} from '@patchflow/contracts';

/**
 * The history as a release manager reads it: the transitions from their owner, patch-status (so a
 * transition is there the moment its call returned: read-your-writes), each with the executions
 * the action-log has projected so far. A routed workflow the action-log has not heard of yet is a
 * `pending` execution. Pure: the route fetches both sides in parallel and hands them here.
 */
export function mergeHistory(
  owner: PatchHistoryResult,
  log: ActionLogHistoryResult,
  page: { afterVersion: number; limit: number },
  now: Date,
): PatchHistoryPage {
  const later = owner.transitions.filter((t) => t.patchVersion > page.afterVersion);
  const shown = later.slice(0, page.limit);
  const last = shown.at(-1);
  const logged = new Map(log.entries.map((w) => [w.workId, w]));
  return {
    patchId: owner.patchId,
    entries: shown.map((t) => historyEntry(t, logged.get(t.workId))),
    nextCursor: later.length > page.limit && last ? historyCursor.encode(last.patchVersion) : null,
    effects: patchEffects(owner.transitions, log),
    timeInStatus: timeInStatus(owner, now),
  };
}

/** One transition with its executions (one per routed workflow, `pending` where none is known) and settlement. */
export function historyEntry(transition: TransitionView, work: WorkView | undefined): HistoryEntry {
  const workflows = work && work.workflows.length > 0 ? work.workflows : [...workflowsFor(transition.action)];
  const known = new Map((work?.executions ?? []).map((e) => [e.workflow, e]));
  // Routed workflows in routing order, then any that reported without being routed.
  const executions = [
    ...workflows.map((w) => known.get(w) ?? pendingExecution(transition.workId, w)),
    ...(work?.executions ?? []).filter((e) => !workflows.includes(e.workflow)),
  ];
  return {
    workId: transition.workId,
    patchId: transition.patchId,
    action: transition.action,
    transition,
    workflows,
    executions,
    ...(work?.traceId ? { traceId: work.traceId } : {}),
    ...settlementOf(executions, transition.createdAt),
  };
}

function pendingExecution(workId: string, workflow: WorkflowName): ExecutionView {
  return {
    workId,
    workflow,
    status: 'pending',
    attempts: 0,
    lastError: null,
    willRetry: false,
    deadLettered: false,
    startedAt: null,
    finishedAt: null,
    durationMs: null,
    attemptList: [],
    links: [],
    steps: [],
  };
}

/**
 * The whole patch (every transition, not just the page): the action-log's open executions, plus
 * every routed workflow of a transition it has not heard of yet (still running, as far as anyone knows).
 */
function patchEffects(transitions: readonly TransitionView[], log: ActionLogHistoryResult): PatchHistoryPage['effects'] {
  const known = new Set(log.knownWorkIds);
  const running: EffectRef[] = [...log.open.running];
  const listed = new Set(running.map((r) => `${r.workId}/${r.workflow}`));
  for (const t of transitions) {
    if (known.has(t.workId)) continue;
    for (const workflow of workflowsFor(t.action)) {
      if (!listed.has(`${t.workId}/${workflow}`)) running.push({ workId: t.workId, action: t.action, workflow });
    }
  }
  const failed = log.open.failed;
  const state = combinedEffects([
    ...(running.length > 0 ? (['running'] as const) : []),
    ...(failed.length > 0 ? (['failed'] as const) : []),
  ]);
  return { state, running, failed };
}

/**
 * The stays in each status, oldest first, from the transitions: the first from the patch's
 * creation, each next from its transition; the current one lasts until `now`. Their durations add
 * up to the patch's age.
 */
export function timeInStatus(owner: PatchHistoryResult, now: Date): StatusSpan[] {
  const first = owner.transitions[0];
  const spans: StatusSpan[] = [];
  let status = first ? first.fromStatus : owner.patch.status;
  let enteredAt = owner.patch.createdAt;
  for (const t of owner.transitions) {
    spans.push({
      status,
      enteredAt,
      leftAt: t.createdAt,
      durationMs: Math.max(0, Date.parse(t.createdAt) - Date.parse(enteredAt)),
    });
    status = t.toStatus;
    enteredAt = t.createdAt;
  }
  spans.push({ status, enteredAt, leftAt: null, durationMs: Math.max(0, now.getTime() - Date.parse(enteredAt)) });
  return spans;
}
