import type { EntityManager } from '@mikro-orm/postgresql';
import {
  ContractError,
  type ActionLogHistoryResult,
  type ExecutionView,
  type WorkflowName,
  type WorkView,
} from '@patchflow/contracts';
import {
  ExecutionRecordSchema,
  StepRecordSchema,
  WorkRecordSchema,
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
    const after = cursor === undefined ? 0 : decodeCursor(cursor);
    const works = await em.find(
      WorkRecordSchema,
      { patchId, patchVersion: { $gt: after } },
      { orderBy: { patchVersion: 'asc', workId: 'asc' }, limit: limit + 1 },
    );
    const page = works.slice(0, limit);
    const entries = await this.views(em, page);
    const last = page.at(-1);
    return { patchId, entries, nextCursor: works.length > limit && last ? encodeCursor(last.patchVersion) : null };
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
    return {
      workId,
      patchId: first.patchId,
      action: first.action,
      transition: null,
      workflows: [],
      executions: executions.map((e) => executionView(e, steps)),
    };
  }

  private async views(em: EntityManager, works: WorkRecord[]): Promise<WorkView[]> {
    if (works.length === 0) return [];
    const workIds = works.map((w) => w.workId);
    const executions = await em.find(ExecutionRecordSchema, { workId: { $in: workIds } });
    const steps = await em.find(StepRecordSchema, { workId: { $in: workIds } }, { orderBy: { at: 'asc', streamSeq: 'asc' } });
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
        executions: own.map((e) => executionView(e, steps)),
      };
    });
  }
}

function executionView(e: ExecutionRecord, allSteps: StepRecord[]): ExecutionView {
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
    steps: allSteps
      .filter((s) => s.workId === e.workId && s.workflow === e.workflow)
      .map((s) => ({
        eventId: s.eventId,
        subactionType: s.subactionType,
        message: s.message,
        metadata: s.metadata,
        attempt: s.attempt,
        at: s.at.toISOString(),
      })),
  };
}

// The cursor is the patch version of the last entry of the page: versions only grow.
function encodeCursor(patchVersion: number): string {
  return Buffer.from(`v1:${patchVersion}`).toString('base64url');
}

function decodeCursor(cursor: string): number {
  const match = /^v1:(\d{1,9})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match?.[1]) throw ContractError.validation([{ path: 'cursor', message: 'not a cursor this service issued' }]);
  return Number(match[1]);
}
