import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { streamMessages, type StepEvent, type StreamMessage, type WorkflowName, type WorkItem } from '@patchflow/contracts';
import { currentTrace, type Logger } from '@patchflow/log';
import type { StepLogger } from './workflow-service.js';

export interface Subaction {
  /** `patch.workflow.<action>.<stepName>`, e.g. `patch.workflow.startDeployment.createSuccessor`. */
  subactionType: string;
  message: string;
  metadata?: Record<string, unknown>;
}

/**
 * Where events are published: `Bus` (awaits each ack over a request) or the runtime's
 * ConfirmingStreamPublisher (acks on one subscription). Either resolves once the stream stored
 * the message, at least once.
 */
export interface EventSink {
  send<S extends z.ZodType>(message: StreamMessage<S>, value: z.infer<S>): Promise<unknown>;
}

/**
 * The step log of one execution. Each `subaction` is published as a `StepEvent` to JetStream
 * (awaited: when it resolves the step is stored, at least once — the action-log deduplicates by
 * eventId) and written to the service log.
 */
export class ActionLogger implements StepLogger {
  constructor(
    private readonly events: EventSink,
    private readonly workflow: WorkflowName,
    private readonly work: WorkItem,
    readonly attempt: number,
    private readonly log: Logger,
  ) {}

  /** The subactionType of a step of this execution's action. */
  subactionType(stepName: string): string {
    return `patch.workflow.${this.work.transition.action}.${stepName}`;
  }

  async subaction({ subactionType, message, metadata = {} }: Subaction): Promise<void> {
    const event: StepEvent = {
      kind: 'step',
      eventId: randomUUID(),
      workId: this.work.workId,
      patchId: this.work.patch.id,
      action: this.work.transition.action,
      workflow: this.workflow,
      attempt: this.attempt,
      at: new Date().toISOString(),
      ...traceIdNow(),
      subactionType,
      message,
      metadata,
    };
    // Debug: the step is in the history (action-log); the execution's outcome line stays at info.
    this.log.debug({ workId: event.workId, subactionType, metadata }, message);
    await this.events.send(streamMessages.step, event);
  }

  /** Shorthand for `subaction` with `subactionType(stepName)`. */
  async step(stepName: string, message: string, metadata?: Record<string, unknown>): Promise<void> {
    await this.subaction({ subactionType: this.subactionType(stepName), message, ...(metadata ? { metadata } : {}) });
  }
}

/** The current trace id as a step or execution event carries it (none outside a trace). */
export function traceIdNow(): { traceId?: string } {
  const t = currentTrace();
  return t ? { traceId: t.traceId } : {};
}
