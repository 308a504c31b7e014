import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { ExecutionEvent, StepEvent, WorkflowEvent, WorkflowName, WorkItem } from '@patchflow/contracts';
import {
  ExecutionEventRecordSchema,
  ExecutionRecordSchema,
  StepRecordSchema,
  WorkRecordSchema,
  type ExecutionRecord,
} from './entities/index.js';
import { foldExecution } from './execution-fold.js';
import type { ActionLogOrm } from './orm.js';

/** What changed, for the live-update ping; undefined when the message was a duplicate. */
export interface ProjectionChange {
  patchId: string;
  workId: string;
  kind: 'work' | 'step' | 'execution';
  workflow?: WorkflowName;
}

/**
 * Writes the projection. Every method is idempotent (ids are unique columns, inserts ignore
 * conflicts) and order-independent (an execution's summary is re-folded from all its events
 * under a row lock), so redeliveries, replays and events that overtake their work item all
 * converge on the same rows. Each call is its own transaction on a fresh EntityManager.
 */
export class Projection {
  constructor(private readonly orm: ActionLogOrm) {}

  async applyWork(item: WorkItem, streamSeq: number): Promise<ProjectionChange | undefined> {
    return this.orm.em.fork().transactional(async (em) => {
      const inserted = await em
        .createQueryBuilder(WorkRecordSchema)
        .insert({
          workId: item.workId,
          patchId: item.patch.id,
          action: item.transition.action,
          patchVersion: item.transition.patchVersion,
          transition: item.transition,
          workflows: [...item.workflows],
          streamSeq,
        })
        .onConflict('workId')
        .ignore()
        .execute('run');
      for (const workflow of item.workflows) {
        await this.ensureExecution(em, { workId: item.workId, workflow, patchId: item.patch.id, action: item.transition.action });
      }
      return inserted.affectedRows > 0 ? { patchId: item.patch.id, workId: item.workId, kind: 'work' as const } : undefined;
    });
  }

  async applyEvent(event: WorkflowEvent, streamSeq: number): Promise<ProjectionChange | undefined> {
    return this.orm.em.fork().transactional(async (em) => {
      const inserted = event.kind === 'step' ? await insertStep(em, event, streamSeq) : await insertExecutionEvent(em, event, streamSeq);
      if (!inserted) return undefined;
      await this.ensureExecution(em, event);
      await refold(em, event.workId, event.workflow);
      return { patchId: event.patchId, workId: event.workId, kind: event.kind, workflow: event.workflow };
    });
  }

  /** Creates the pending execution row unless it exists (an event may have created it first). */
  private async ensureExecution(
    em: EntityManager,
    key: Pick<ExecutionRecord, 'workId' | 'workflow' | 'patchId' | 'action'>,
  ): Promise<void> {
    await em
      .createQueryBuilder(ExecutionRecordSchema)
      .insert({
        workId: key.workId,
        workflow: key.workflow,
        patchId: key.patchId,
        action: key.action,
        status: 'pending',
        attempts: 0,
        lastError: null,
        willRetry: false,
        deadLettered: false,
        startedAt: null,
        finishedAt: null,
      })
      .onConflict(['workId', 'workflow'])
      .ignore()
      .execute('run');
  }
}

async function insertStep(em: EntityManager, e: StepEvent, streamSeq: number): Promise<boolean> {
  const r = await em
    .createQueryBuilder(StepRecordSchema)
    .insert({
      eventId: e.eventId,
      workId: e.workId,
      workflow: e.workflow,
      patchId: e.patchId,
      attempt: e.attempt,
      subactionType: e.subactionType,
      message: e.message,
      metadata: e.metadata,
      at: new Date(e.at),
      streamSeq,
    })
    .onConflict('eventId')
    .ignore()
    .execute('run');
  return r.affectedRows > 0;
}

async function insertExecutionEvent(em: EntityManager, e: ExecutionEvent, streamSeq: number): Promise<boolean> {
  const r = await em
    .createQueryBuilder(ExecutionEventRecordSchema)
    .insert({
      eventId: e.eventId,
      workId: e.workId,
      workflow: e.workflow,
      patchId: e.patchId,
      status: e.status,
      attempt: e.attempt,
      error: e.error ?? null,
      willRetry: e.willRetry,
      deadLettered: e.deadLettered,
      at: new Date(e.at),
      streamSeq,
    })
    .onConflict('eventId')
    .ignore()
    .execute('run');
  return r.affectedRows > 0;
}

/**
 * Recomputes one execution's summary from all its events. The row lock serialises concurrent
 * events of one execution: whoever folds last sees every event committed before it.
 */
async function refold(em: EntityManager, workId: string, workflow: WorkflowName): Promise<void> {
  await em.findOneOrFail(ExecutionRecordSchema, { workId, workflow }, { lockMode: LockMode.PESSIMISTIC_WRITE });
  const facts = await em.find(ExecutionEventRecordSchema, { workId, workflow });
  const stepStats = await em.execute<{ max_attempt: number | null }>(
    'select max(attempt) as max_attempt from action_log_step where work_id = ? and workflow = ?',
    [workId, workflow],
    'get',
  );
  const stepAttempts = Number(stepStats.max_attempt ?? 0);
  const summary = foldExecution(facts, stepAttempts);
  await em.nativeUpdate(ExecutionRecordSchema, { workId, workflow }, summary);
}
