import {
  ContractError,
  WorkItem,
  type AttentionItem,
  type AttentionRequest,
  type DiscardDeadLetterRequest,
  type DiscardDeadLetterResult,
  type ReplayOutcome,
  type ReplayRequest,
  type ReplayResult,
  type RetryExecutionRequest,
  type RetryExecutionResult,
  type WorkflowName,
} from '@patchflow/contracts';
import type { Bus } from '@patchflow/bus';
import type { Logger } from '@patchflow/log';
import type { z } from 'zod';
import { ActionLogger, type EventSink } from './action-logger.js';
import type { ExecutionStore } from './execution-store.js';
import type { RunOptions, RunOutcome } from './workflow-runtime.js';
import { NoOpWorkflowService, type WorkflowHandlers } from './workflow-service.js';

export interface OperatorRepairOptions {
  bus: Bus;
  workflow: WorkflowName;
  handlers: WorkflowHandlers;
  store: ExecutionStore;
  logger: Logger;
  /** Where step events go (the runtime's confirming publisher once it consumes). */
  events: () => EventSink;
  /** The runtime's own path for one work item: claim, idempotency, steps, results, dead letters. */
  run: (work: WorkItem, opts: RunOptions) => Promise<RunOutcome>;
}

type Parsed<S extends z.ZodType> = z.infer<S>;

/**
 * The operator endpoints that repair work by hand (replay, retry of one execution, discard of a
 * dead letter, what needs attention). Each run goes through the runtime's own path, so nothing
 * runs twice unless an operator forces it, and every such action leaves a step in the history.
 * The work item always comes from the work stream or the dead-letter table, never from the
 * caller: operators name work, only patch-status publishes it.
 */
export class OperatorRepair {
  constructor(private readonly o: OperatorRepairOptions) {}

  private routedHere(work: WorkItem): boolean {
    const handler = this.o.handlers[work.transition.action];
    return !(handler instanceof NoOpWorkflowService) && work.workflows.includes(this.o.workflow);
  }

  /** The work item at `seq` of the work stream, if it is the one asked for. */
  private async fromStream(workId: string, seq: number): Promise<WorkItem | string> {
    const { bus } = this.o;
    const stored = await bus.admin.message(bus.topology.streams.work.name, seq);
    if (!stored) return `no work item at sequence ${seq}`;
    const parsed = WorkItem.safeParse(stored.json());
    if (!parsed.success) return `the message at sequence ${seq} is not a valid work item`;
    if (parsed.data.workId !== workId) return `sequence ${seq} holds work ${parsed.data.workId}, not ${workId}`;
    return parsed.data;
  }

  /**
   * Finds a work item by id: at the stream sequence given, else where its execution was delivered
   * from, else the copy a dead letter keeps. A string says why it was not found.
   */
  private async findWork(workId: string, streamSeq?: number): Promise<WorkItem | string> {
    if (streamSeq !== undefined) return this.fromStream(workId, streamSeq);
    const execution = await this.o.store.get(workId);
    let why = `no execution of work ${workId} in workflow ${this.o.workflow}`;
    if (execution?.workSeq) {
      const found = await this.fromStream(workId, execution.workSeq);
      if (typeof found !== 'string') return found;
      why = found;
    }
    const dead = await this.o.store.deadLetterWork(workId);
    if (dead) return WorkItem.parse(dead.work);
    return why;
  }

  async replay(req: Parsed<typeof ReplayRequest>): Promise<ReplayResult> {
    const force = req.force ? { actor: req.actor!, reason: req.reason! } : undefined;
    const outcomes: ReplayOutcome[] = [];
    for (const item of req.items) {
      const work = await this.findWork(item.workId, item.streamSeq);
      if (typeof work === 'string') {
        outcomes.push({ workId: item.workId, status: 'not_found', detail: work });
        continue;
      }
      if (!this.routedHere(work)) {
        outcomes.push({
          workId: work.workId,
          status: 'not_routed',
          detail: `${work.transition.action} is not routed to ${this.o.workflow}`,
        });
        continue;
      }
      this.o.logger.info({ workId: work.workId, force: Boolean(force), actor: force?.actor }, 'operator replay');
      const outcome = await this.o.run(work, {
        finalAttempt: true,
        working: () => undefined,
        workSeq: item.streamSeq ?? null,
        ...(force ? { force } : {}),
      });
      const after = await this.o.store.get(work.workId);
      const attempt = after?.attempts;
      const at = attempt !== undefined ? { attempt } : {};
      switch (outcome.kind) {
        case 'succeeded':
          await this.closeDeadLetter(work.workId);
          outcomes.push({ workId: work.workId, status: 'succeeded', ...at });
          break;
        case 'skipped':
          await this.closeDeadLetter(work.workId);
          outcomes.push({ workId: work.workId, status: 'skipped', detail: outcome.reason, ...at });
          break;
        case 'already_succeeded':
          outcomes.push({ workId: work.workId, status: 'already_succeeded', detail: 'already succeeded (force runs it again)' });
          break;
        case 'busy':
          outcomes.push({ workId: work.workId, status: 'busy', detail: 'running in another instance; try again later' });
          break;
        case 'retry':
          outcomes.push({ workId: work.workId, status: 'failed', detail: outcome.error, ...at });
          break;
        case 'dead_lettered':
          outcomes.push({ workId: work.workId, status: 'failed', detail: outcome.reason, ...at });
          break;
        default: {
          const never: never = outcome;
          throw new Error(`unknown outcome ${JSON.stringify(never)}`);
        }
      }
    }
    return { outcomes };
  }

  /** A run that succeeded closes the item's open dead letter, if it had one. */
  private async closeDeadLetter(workId: string): Promise<void> {
    const dead = await this.o.store.deadLetterWork(workId);
    if (dead?.open) await this.o.store.markDeadLetterRetried(workId);
  }

  async retryExecution(req: Parsed<typeof RetryExecutionRequest>): Promise<RetryExecutionResult> {
    const { store, workflow } = this.o;
    const execution = await store.get(req.workId);
    if (!execution) throw new ContractError('not_found', `no execution of work ${req.workId} in workflow ${workflow}`);
    if (execution.status === 'succeeded') {
      throw new ContractError(
        'invalid_transition',
        `work ${req.workId} already succeeded in workflow ${workflow}; replay it to run it again`,
        {
          status: 'succeeded',
        },
      );
    }
    const result = (status: 'succeeded' | 'failed' | 'queued', error?: string): RetryExecutionResult => ({
      outcome: { workId: req.workId, workflow, status, ...(error !== undefined ? { error } : {}) },
    });
    if (execution.status === 'running' && execution.leaseUntil && execution.leaseUntil > new Date()) return result('queued');
    const dead = await store.deadLetterWork(req.workId);
    const work = dead ? WorkItem.parse(dead.work) : await this.findWork(req.workId);
    if (typeof work === 'string') throw new ContractError('not_found', `work ${req.workId} can no longer be read: ${work}`);
    const retriedBy = req.actor && req.reason ? { actor: req.actor, reason: req.reason } : undefined;
    this.o.logger.info({ workId: work.workId, actor: req.actor }, 'operator retry of one execution');
    // Waiting for a redelivery (`retrying`): JetStream still holds the message, so a transient
    // failure now leaves it to that redelivery; otherwise (failed, dead-lettered) it dead-letters again.
    const outcome = await this.o.run(work, {
      finalAttempt: execution.status !== 'retrying',
      working: () => undefined,
      ...(retriedBy ? { retriedBy } : {}),
    });
    switch (outcome.kind) {
      case 'succeeded':
      case 'skipped':
      case 'already_succeeded':
        if (dead?.open) await store.markDeadLetterRetried(work.workId);
        return result('succeeded');
      case 'busy':
        return result('queued');
      case 'retry':
        return result('failed', outcome.error);
      case 'dead_lettered':
        if (dead?.open) await store.countRetry(work.workId);
        return result('failed', outcome.reason);
      default: {
        const never: never = outcome;
        throw new Error(`unknown outcome ${JSON.stringify(never)}`);
      }
    }
  }

  async discardDeadLetter(req: Parsed<typeof DiscardDeadLetterRequest>): Promise<DiscardDeadLetterResult> {
    const { store, workflow } = this.o;
    const note = { actor: req.actor, reason: req.reason };
    const closed = await store.discardDeadLetter(req.workId, note);
    if (!closed) throw new ContractError('not_found', `no open dead letter for work ${req.workId} in workflow ${workflow}`);
    const work = WorkItem.parse(closed.work);
    const execution = await store.get(req.workId);
    const log = this.o.logger.child({ workflow, workId: work.workId, action: work.transition.action, patchId: work.patch.id });
    const logger = new ActionLogger(this.o.events(), workflow, work, Math.max(1, execution?.attempts ?? closed.attempts), log);
    // The step keeps the discard in the history (the dead letter itself leaves the open list).
    await logger.step('discarded', `discarded by ${note.actor}: ${note.reason}`, note);
    return { workId: work.workId, discardedAt: closed.discardedAt.toISOString() };
  }

  async attention(req: Parsed<typeof AttentionRequest>): Promise<{ items: AttentionItem[] }> {
    const rows = await this.o.store.attention(req.stuckAfterMs, req.limit);
    return {
      items: rows.map((r) => ({
        kind: r.kind,
        workId: r.workId,
        patchId: r.patchId,
        patchName: r.patchName,
        action: r.action as AttentionItem['action'],
        workflow: this.o.workflow,
        reason: r.reason,
        since: r.since.toISOString(),
      })),
    };
  }
}
