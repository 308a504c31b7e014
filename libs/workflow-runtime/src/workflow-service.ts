import type { ActionName, PatchView, WorkItem } from '@patchflow/contracts';
import type { Subaction } from './action-logger.js';
import type { ExternalRef } from './execution-store.js';

/**
 * The step log a handler writes to (ActionLogger in the runtime; a plain recording object in
 * unit tests). Each step resolves once it is stored, at least once.
 */
export interface StepLogger {
  subaction(subaction: Subaction): Promise<void>;
  /** `subaction` of `patch.workflow.<action>.<stepName>`. */
  step(stepName: string, message: string, metadata?: Record<string, unknown>): Promise<void>;
}

/** What a handler knows about the execution it runs in. */
export interface ExecutionContext {
  /** 1-based; counts every run of this work item by this workflow, operator retries included. */
  attempt: number;
  /** External ids recorded by earlier attempts (empty on the first). */
  externalRef: ExternalRef;
  /** Stores external ids at once, so a rerun after a crash does not repeat the call. */
  recordExternalRef(ref: ExternalRef): Promise<void>;
}

export interface WorkflowInput {
  work: WorkItem;
  /** The patch as the transition left it (`work.patch`). */
  patch: PatchView;
  logger: StepLogger;
  execution: ExecutionContext;
  /** Aborted when the service shuts down and cannot wait any longer: pass it to I/O. */
  signal: AbortSignal;
}

/**
 * `succeeded` (the default when a handler returns nothing) or `skipped` with why (nothing to do:
 * no Jira key, already in the target status, …). Both settle the work.
 *
 * `externalRef` on success is stored in the same write as the success itself: for ids of an
 * effect that is idempotent on its own (the successor's create is keyed by the work id), which
 * need no write of their own. Ids that keep a rerun from repeating a call go through
 * `recordExternalRef`, at once.
 */
export type WorkflowResult = { status: 'succeeded'; externalRef?: ExternalRef } | { status: 'skipped'; reason: string };

/**
 * One action's side effect in one workflow. Throw TransientError / PermanentError /
 * NotConfigured (errors.ts) to fail; anything else thrown is retried like a transient error.
 * It may run more than once for one work item (at-least-once): use `execution.externalRef`.
 */
export interface ActionWorkflowService {
  execute(input: WorkflowInput): Promise<WorkflowResult | void>;
}

/** An action this workflow does nothing for: the work is acked without an execution. */
export class NoOpWorkflowService {
  readonly noOp = true;
}
export const noOp = new NoOpWorkflowService();

/**
 * A workflow's handler table: every action of the lifecycle must be decided, so a new action
 * fails to compile until each workflow says what it does (or `noOp`).
 */
export type WorkflowHandlers = Record<ActionName, ActionWorkflowService | NoOpWorkflowService>;
