import { randomUUID } from 'node:crypto';
import {
  ContractError,
  WorkItem,
  streamMessages,
  workflowOpsEndpoints,
  type DeadLetter,
  type ExecutionEvent,
  type ExecutionStatus,
  type RetryOutcome,
  type WorkflowName,
} from '@patchflow/contracts';
import { ConfirmingStreamPublisher, ConsumerRunner, type Bus, type Delivery, type Settlement } from '@patchflow/bus';
import { counter, durationBuckets, histogram } from '@patchflow/config';
import { isDatabaseUnavailable } from '@patchflow/db';
import { incomingTrace, startSpan, withTrace, type Logger, type TraceSpan } from '@patchflow/log';
import { ActionLogger, traceIdNow, type EventSink } from './action-logger.js';
import { errorMessage, TransientError } from './errors.js';
import { failureKind, type RetryPolicy } from './retry-policy.js';
import type { ExecutionStore } from './execution-store.js';
import { OperatorRepair } from './operator-repair.js';
import { NoOpWorkflowService, type WorkflowHandlers, type WorkflowResult } from './workflow-service.js';

export interface WorkflowRuntimeOptions {
  bus: Bus;
  workflow: WorkflowName;
  handlers: WorkflowHandlers;
  store: ExecutionStore;
  logger: Logger;
  /** Delays, attempts, the consumer's ack wait (= the execution lease) and delivery limit. */
  retry: RetryPolicy;
  /** Work items run at once by this process. */
  concurrency?: number;
  /** On stop, how long in-flight executions may finish before they are aborted and nak'ed. */
  shutdownGraceMs?: number;
  /** How long a step or execution event may wait for the stream's ack before it counts as failed (default 5000, as `bus.send`). */
  eventAckTimeoutMs?: number;
  /**
   * An execution publishes `running` only when its handler is still going after this long (default
   * 250; 0: at once). A quicker one publishes just its outcome, which carries `startedAt`.
   */
  runningEventDelayMs?: number;
}

/** What an execution event carries besides its status; `startedAt`: when its attempt started. */
type ExecutionExtra = Pick<ExecutionEvent, 'error' | 'startedAt'> & { willRetry?: boolean; deadLettered?: boolean };

/** How one run of one work item ended, and so how its message is settled. */
export type RunOutcome =
  | { kind: 'succeeded' }
  | { kind: 'skipped'; reason: string }
  | { kind: 'already_succeeded' }
  | { kind: 'busy'; retryInMs: number }
  | { kind: 'retry'; delayMs: number; error: string }
  | { kind: 'dead_lettered'; reason: string };

/** How to run one work item: from a delivery, or by an operator (retry, replay, forced replay). */
export interface RunOptions {
  /** A transient failure dead-letters the work instead of asking for a redelivery. */
  finalAttempt: boolean;
  working: () => void;
  /** The work item's sequence in the work stream, recorded on the execution for replays by work id. */
  workSeq?: number | null;
  /** An operator's forced run: a new attempt even if it succeeded, recorded with who and why. */
  force?: { actor: string; reason: string };
  /** An operator's retry with who and why (recorded on the execution and as a step). */
  retriedBy?: { actor: string; reason: string };
  /** The delivery's trace headers: the trace to continue when the work item carries none. */
  traceHeaders?: { traceparent?: string; correlationId?: string };
}

/** Executions by how they ended (RunOutcome's kind), consumed from the stream or retried by an operator. */
const executionsTotal = counter({
  name: 'workflow_executions_total',
  help: 'Work items run by a workflow, by workflow and outcome (succeeded, skipped, already_succeeded, busy, retry, dead_lettered)',
  labelNames: ['workflow', 'outcome'],
});
const handlerSeconds = histogram({
  name: 'workflow_handler_duration_seconds',
  help: "Time a workflow's handler took for one execution (success or failure), by workflow",
  labelNames: ['workflow'],
  buckets: durationBuckets,
});
const deliveryAttempts = histogram({
  name: 'workflow_delivery_attempts',
  help: 'Delivery count of each work item a workflow ran (1: first delivery), by workflow',
  labelNames: ['workflow'],
  buckets: [1, 2, 3, 4, 5, 6, 8, 10],
});
const deadLettersTotal = counter({
  name: 'workflow_dead_letters_total',
  help: 'Work a workflow gave up on (dead-lettered), by workflow',
  labelNames: ['workflow'],
});

/**
 * Runs one workflow: a durable pull consumer on the work stream (shared by every instance of
 * the service), the handler table, the execution record that makes reruns harmless, the step
 * and execution events, dead letters and the operator endpoints. Settlement rules:
 *
 * - invalid message → terminated and logged (ConsumerRunner), never blocks the ones behind it;
 * - action routed to nothing here → ack;
 * - already succeeded (redelivery, replay) → ack, logged as skipped;
 * - success / skipped / not configured → ack;
 * - transient failure → nak with exponential backoff (or Retry-After), until the last attempt;
 * - permanent failure or last attempt failed → dead letter, execution failed, term.
 */
export class WorkflowRuntime {
  private runner: ConsumerRunner | undefined;
  /**
   * Step, execution and dead-letter events: each send resolves when the stream stored it, like
   * `bus.send`, but acks come back on one subscription (no request, timer and error object per
   * event) and sends do not wait for one another.
   */
  private events: ConfirmingStreamPublisher | undefined;
  private readonly shutdown = new AbortController();
  private readonly leaseMs: number;
  /** What this instance did since it started (executions it ran, by outcome). */
  readonly stats = { executed: 0, succeeded: 0, skipped: 0, retried: 0, deadLettered: 0 };

  private constructor(private readonly o: WorkflowRuntimeOptions) {
    this.leaseMs = o.retry.ackWaitMs;
  }

  static async start(options: WorkflowRuntimeOptions): Promise<WorkflowRuntime> {
    const runtime = new WorkflowRuntime(options);
    await runtime.begin();
    return runtime;
  }

  private async begin(): Promise<void> {
    const { bus, workflow, logger } = this.o;
    await bus.ensureStreams(['work', 'workflowEvents', 'deadLetters']);
    this.events = new ConfirmingStreamPublisher(bus, this.o.eventAckTimeoutMs ?? 5000);
    const ops = workflowOpsEndpoints(workflow);
    bus.serve(ops.listDeadLetters, (req) => this.o.store.listDeadLetters(req).then((items) => ({ items })));
    bus.serve(ops.retryDeadLetters, (req) => this.retryDeadLetters(req.workId).then((outcomes) => ({ outcomes })));
    const repair = new OperatorRepair({
      bus,
      workflow,
      handlers: this.o.handlers,
      store: this.o.store,
      logger,
      events: () => this.eventSink(),
      run: (work, opts) => this.run(work, opts),
    });
    bus.serve(ops.replay, (req) => repair.replay(req));
    bus.serve(ops.retryExecution, (req) => repair.retryExecution(req));
    bus.serve(ops.discardDeadLetter, (req) => repair.discardDeadLetter(req));
    bus.serve(ops.attention, (req) => repair.attention(req));
    // The policy sets the ack wait (= lease) and a max_deliver above its attempts: JetStream drops a
    // message silently after max_deliver, so the runtime dead-letters it on its last attempt first.
    const consumer = this.o.retry.consumer(bus.topology.workflowConsumer(workflow));
    this.runner = await ConsumerRunner.start(bus, {
      consumer,
      schema: WorkItem,
      concurrency: this.o.concurrency ?? 16,
      handle: (d) => this.handle(d),
    });
    logger.info({ workflow, consumer: consumer.durableName, retry: this.o.retry.toJSON() }, 'workflow consuming work');
  }

  private async handle(d: Delivery<WorkItem>): Promise<Settlement> {
    const work = d.value;
    const action = work.transition.action;
    if (this.o.bus.topology.actionOfWorkSubject(d.subject) !== action) {
      this.o.logger.error({ subject: d.subject, workId: work.workId, action }, 'work subject does not match its action');
      return { kind: 'term', reason: `subject ${d.subject} does not match action ${action}` };
    }
    const handler = this.o.handlers[action];
    if (handler instanceof NoOpWorkflowService || !work.workflows.includes(this.o.workflow)) {
      this.o.logger.debug({ workId: work.workId, action }, 'not routed to this workflow; acked');
      return { kind: 'ack' };
    }
    deliveryAttempts.labels(this.o.workflow).observe(d.deliveryCount);
    const outcome = await this.runThroughDatabaseOutage(work, d);
    executionsTotal.labels(this.o.workflow, outcome.kind).inc();
    switch (outcome.kind) {
      case 'succeeded':
      case 'skipped':
      case 'already_succeeded':
        return { kind: 'ack' };
      case 'busy':
        return { kind: 'nak', delayMs: outcome.retryInMs };
      case 'retry':
        return { kind: 'nak', delayMs: outcome.delayMs };
      case 'dead_lettered':
        return { kind: 'term', reason: outcome.reason };
      default: {
        const never: never = outcome;
        throw new Error(`unknown outcome ${JSON.stringify(never)}`);
      }
    }
  }

  /**
   * Runs the execution, holding on to the message while Postgres is unreachable: it tells
   * JetStream the message is still being worked on and tries again (250 ms, doubling to 5 s or the
   * heartbeat, well within the ack wait) instead of a nak, because every redelivery counts towards the consumer's max_deliver, after
   * which JetStream drops the message silently — an outage must not use up the work's deliveries
   * (measured: a 15 s outage lost work that way). While held, these messages occupy the consumer's
   * concurrency, so it pulls nothing new until the database is back. At shutdown the error goes up
   * (nak: another instance takes it).
   */
  private async runThroughDatabaseOutage(work: WorkItem, d: Delivery<WorkItem>): Promise<RunOutcome> {
    const maxWaitMs = Math.min(5000, this.o.retry.heartbeatMs);
    for (let waitMs = Math.min(250, maxWaitMs); ; waitMs = Math.min(waitMs * 2, maxWaitMs)) {
      try {
        return await this.run(work, {
          finalAttempt: this.o.retry.isFinalDelivery(d.deliveryCount),
          working: d.working,
          workSeq: d.streamSeq,
          ...(d.trace ? { traceHeaders: d.trace } : {}),
        });
      } catch (err) {
        if (!isDatabaseUnavailable(err) || this.shutdown.signal.aborted) throw err;
        this.o.logger.warn(
          { workId: work.workId, retryInMs: waitMs, err: errorMessage(err) },
          'Postgres unavailable; holding the work until it is back',
        );
        d.working();
        await new Promise((r) => setTimeout(r, waitMs));
      }
    }
  }

  /**
   * One execution as a span of the work item's trace (a child of patch-status's transition span;
   * a new trace for work from before tracing): its log lines and events carry the trace id.
   */
  private async run(work: WorkItem, opts: RunOptions): Promise<RunOutcome> {
    const { workflow } = this.o;
    const from = work.trace ?? opts.traceHeaders;
    const parent = from?.traceparent ? incomingTrace(from.traceparent, from.correlationId) : undefined;
    const attributes = { workId: work.workId, patchId: work.patch.id, action: work.transition.action, workflow };
    const span = startSpan(`workflow-${workflow} execution`, parent, attributes, 'consumer');
    let outcome: RunOutcome | undefined;
    try {
      outcome = await withTrace(span.trace, () => this.execute(work, opts, span));
      return outcome;
    } finally {
      span.setAttributes({ outcome: outcome?.kind ?? 'error' });
      span.end(outcome === undefined || outcome.kind === 'dead_lettered' ? (outcome?.reason ?? 'error') : undefined);
    }
  }

  /**
   * One execution of `work`: claim it, run the handler with a heartbeat, record and publish
   * the outcome. `finalAttempt` turns a transient failure into a dead letter.
   */
  private async execute(work: WorkItem, opts: RunOptions, span: TraceSpan): Promise<RunOutcome> {
    const { store, workflow } = this.o;
    const events = this.eventSink();
    const handler = this.o.handlers[work.transition.action];
    if (handler instanceof NoOpWorkflowService) return { kind: 'skipped', reason: 'not routed' };
    const log = this.o.logger.child({ workflow, workId: work.workId, action: work.transition.action, patchId: work.patch.id });
    const claim = opts.force
      ? await store.forceClaim(work, this.leaseMs, opts.force, opts.workSeq ?? null)
      : await store.claim(work, this.leaseMs, opts.workSeq ?? null);
    if (claim.kind === 'busy') {
      log.info({ retryInMs: claim.retryInMs }, 'execution is running elsewhere; retrying later');
      return { kind: 'busy', retryInMs: claim.retryInMs };
    }
    if (claim.kind === 'succeeded') {
      const logger = new ActionLogger(events, workflow, work, claim.attempts, log);
      await logger.step('skipped', 'skipped: already succeeded (redelivered or replayed work)');
      await this.publishExecution(work, claim.attempts, 'skipped');
      return { kind: 'already_succeeded' };
    }
    const attempt = claim.attempt;
    const startedAt = new Date().toISOString();
    span.setAttributes({ attempt });
    this.stats.executed++;
    const logger = new ActionLogger(events, workflow, work, attempt, log);
    if (opts.force) {
      const { actor, reason } = opts.force;
      await logger.step('operator', `replay forced by ${actor}: ${reason}`, {
        actor,
        reason,
        previousExternalRef: 'previousExternalRef' in claim ? claim.previousExternalRef : {},
      });
    } else if (opts.retriedBy) {
      const { actor, reason } = opts.retriedBy;
      await store.recordOperator(work.workId, opts.retriedBy);
      await logger.step('operator', `retried by ${actor}: ${reason}`, { actor, reason });
    }
    // Only an execution still going after runningEventDelayMs reports `running` (the action-log
    // already counts an attempt with steps as running, and the outcome carries startedAt): most
    // finish sooner, one event less each. Not confirmed: the handler need not wait a round trip for a progress event, and
    // the stream is not asked to ack it. Publishes leave in order on one connection, so `running`
    // lands before the outcome; if it is lost, the confirmed outcome event that follows says more.
    const delayMs = this.o.runningEventDelayMs ?? 250;
    let running: NodeJS.Timeout | undefined;
    if (delayMs === 0) this.publishRunning(work, attempt, startedAt, log);
    else running = setTimeout(() => this.publishRunning(work, attempt, startedAt, log), delayMs);
    const heartbeat = setInterval(() => {
      opts.working();
      void store.renewLease(work.workId, this.leaseMs).catch((err: unknown) => log.warn({ err }, 'lease renewal failed'));
    }, this.o.retry.heartbeatMs);
    let result: WorkflowResult | void;
    const started = performance.now();
    try {
      result = await handler.execute({
        work,
        patch: work.patch,
        logger,
        signal: this.shutdown.signal,
        execution: {
          attempt,
          externalRef: 'externalRef' in claim ? claim.externalRef : {},
          recordExternalRef: (ref) => store.recordExternalRef(work.workId, ref),
        },
      });
    } catch (error) {
      return this.failed(work, attempt, startedAt, error, opts.finalAttempt, logger, log);
    } finally {
      clearTimeout(running);
      clearInterval(heartbeat);
      handlerSeconds.labels(workflow).observe((performance.now() - started) / 1000);
    }
    if (result && result.status === 'skipped') {
      await logger.step('skipped', `skipped: ${result.reason}`);
      await Promise.all([store.markSucceeded(work.workId), this.publishExecution(work, attempt, 'skipped', { startedAt })]);
      this.stats.skipped++;
      return { kind: 'skipped', reason: result.reason };
    }
    await Promise.all([
      store.markSucceeded(work.workId, result?.externalRef),
      this.publishExecution(work, attempt, 'succeeded', { startedAt }),
    ]);
    this.stats.succeeded++;
    log.info({ attempt }, 'execution succeeded');
    return { kind: 'succeeded' };
  }

  private async failed(
    work: WorkItem,
    attempt: number,
    startedAt: string,
    error: unknown,
    finalAttempt: boolean,
    logger: ActionLogger,
    log: Logger,
  ): Promise<RunOutcome> {
    const { store } = this.o;
    const message = errorMessage(error).slice(0, 4000);
    const kind = failureKind(error);
    switch (kind) {
      case 'not_configured': {
        const reason = `not configured (${message})`;
        await logger.step('skipped', `skipped: ${reason}`);
        await Promise.all([store.markSucceeded(work.workId), this.publishExecution(work, attempt, 'skipped', { startedAt })]);
        this.stats.skipped++;
        return { kind: 'skipped', reason };
      }
      case 'transient': {
        if (this.shutdown.signal.aborted) {
          // Cut short by shutdown: not the work's fault, hand it straight to another instance.
          await store.markRetrying(work.workId, message);
          await this.publishExecution(work, attempt, 'failed', { error: message, willRetry: true, startedAt });
          return { kind: 'retry', delayMs: 0, error: message };
        }
        if (!finalAttempt) {
          const delayMs = this.o.retry.delayMs(attempt, error instanceof TransientError ? error.retryAfterMs : undefined);
          if (!(error instanceof TransientError)) log.error({ err: error }, 'unexpected error; treated as transient');
          log.warn({ attempt, delayMs, error: message }, 'execution failed; will retry');
          await store.markRetrying(work.workId, message);
          await this.publishExecution(work, attempt, 'failed', { error: message, willRetry: true, startedAt });
          this.stats.retried++;
          return { kind: 'retry', delayMs, error: message };
        }
        return this.deadLetter(work, attempt, startedAt, `gave up after ${attempt} attempts: ${message}`, log);
      }
      case 'permanent':
        return this.deadLetter(work, attempt, startedAt, message, log);
      default: {
        const never: never = kind;
        throw new Error(`unknown failure kind ${String(never)}`);
      }
    }
  }

  /** Final failure: execution failed + dead-letter row (one transaction), dead letter on the stream, event. */
  private async deadLetter(work: WorkItem, attempt: number, startedAt: string, reason: string, log: Logger): Promise<RunOutcome> {
    const { store, workflow } = this.o;
    await store.deadLetter(work, reason, attempt);
    const deadLetter: DeadLetter = { workflow, work, reason, attempts: attempt, at: new Date().toISOString() };
    await this.eventSink().send(streamMessages.deadLetter, deadLetter);
    await this.publishExecution(work, attempt, 'failed', { error: reason, deadLettered: true, startedAt });
    this.stats.deadLettered++;
    deadLettersTotal.labels(workflow).inc();
    log.error({ attempt, reason }, 'execution failed; dead-lettered');
    return { kind: 'dead_lettered', reason };
  }

  private async publishExecution(
    work: WorkItem,
    attempt: number,
    status: ExecutionStatus,
    extra: ExecutionExtra = {},
  ): Promise<void> {
    await this.eventSink().send(streamMessages.execution, this.executionEvent(work, attempt, status, extra));
  }

  private executionEvent(work: WorkItem, attempt: number, status: ExecutionStatus, extra: ExecutionExtra): ExecutionEvent {
    const { workflow } = this.o;
    return {
      kind: 'execution',
      eventId: randomUUID(),
      workId: work.workId,
      patchId: work.patch.id,
      action: work.transition.action,
      workflow,
      attempt,
      at: new Date().toISOString(),
      ...traceIdNow(),
      status,
      ...(extra.error !== undefined ? { error: extra.error.slice(0, 4000) } : {}),
      ...(extra.startedAt !== undefined ? { startedAt: extra.startedAt } : {}),
      willRetry: extra.willRetry ?? false,
      deadLettered: extra.deadLettered ?? false,
    };
  }

  private publishRunning(work: WorkItem, attempt: number, startedAt: string, log: Logger): void {
    const event = this.executionEvent(work, attempt, 'running', { startedAt });
    try {
      if (this.events) this.events.sendUnconfirmed(streamMessages.execution, event);
      else
        void this.o.bus
          .send(streamMessages.execution, event)
          .catch((err: unknown) => log.warn({ err: (err as Error).message }, 'could not publish the running event'));
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'could not publish the running event');
    }
  }

  /** Where events go: the confirming publisher once consuming (the bus before, e.g. an early operator retry). */
  private eventSink(): EventSink {
    return this.events ?? this.o.bus;
  }

  /**
   * Operator retry: runs each open dead letter now, in this process. Success closes the dead
   * letter; a failure dead-letters it again with the new reason (nothing is redelivered).
   */
  async retryDeadLetters(workId: string | undefined): Promise<RetryOutcome[]> {
    const items = await this.o.store.openDeadLetterWork(workId);
    if (workId && items.length === 0) {
      throw new ContractError('not_found', `no open dead letter for work ${workId} in workflow ${this.o.workflow}`);
    }
    const outcomes: RetryOutcome[] = [];
    for (const raw of items) {
      const work = WorkItem.parse(raw);
      this.o.logger.info({ workId: work.workId }, 'operator retry of dead-lettered work');
      const outcome = await this.run(work, { finalAttempt: true, working: () => undefined });
      executionsTotal.labels(this.o.workflow, outcome.kind).inc();
      if (outcome.kind === 'succeeded' || outcome.kind === 'skipped' || outcome.kind === 'already_succeeded') {
        await this.o.store.markDeadLetterRetried(work.workId);
        outcomes.push({ workId: work.workId, status: 'succeeded' });
      } else {
        await this.o.store.countRetry(work.workId);
        const error =
          outcome.kind === 'busy'
            ? 'running in another instance; try again later'
            : 'reason' in outcome
              ? outcome.reason
              : outcome.error;
        outcomes.push({ workId: work.workId, status: 'failed', error });
      }
    }
    return outcomes;
  }

  /**
   * Graceful stop: stop pulling; let in-flight executions finish for `shutdownGraceMs`; then
   * abort them (their I/O takes the signal) so they are nak'ed for another instance at once.
   */
  async stop(): Promise<void> {
    const runner = this.runner;
    if (!runner) return;
    this.runner = undefined;
    const stopped = runner.stop();
    const grace = this.o.shutdownGraceMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      stopped.then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), grace))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this.o.logger.warn({ inFlight: runner.inFlightCount }, 'shutdown grace over; aborting in-flight executions');
      this.shutdown.abort(new TransientError('service shutting down'));
      await stopped;
    }
    // Every execution has settled, so no event waits for its ack any more.
    this.events?.close();
  }
}
