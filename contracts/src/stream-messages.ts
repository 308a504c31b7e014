import type { z } from 'zod';
import { WorkItem } from './patch-messages.js';
import type { StreamKey, Topology } from './topology.js';
import { DeadLetter, ExecutionEvent, StepEvent } from './workflow-events.js';

/**
 * A JetStream message kind: which stream keeps it, the subject a value goes to, its schema, and
 * its `Nats-Msg-Id` (the stream's duplicate window drops a repeat of that id, which is what makes
 * a re-publish by the outbox relay or a retried step harmless). The subject is derived from the
 * value itself, so a message can never be published under another action's or workflow's name.
 */
export interface StreamMessage<S extends z.ZodType = z.ZodType> {
  stream: StreamKey;
  schema: S;
  subject(t: Topology, value: z.infer<S>): string;
  msgId(value: z.infer<S>): string;
}

function message<S extends z.ZodType>(m: StreamMessage<S>): StreamMessage<S> {
  return m;
}

/** Every message Patchflow publishes to JetStream (request-reply has `patchEndpoints` & co). */
export const streamMessages = {
  /** A committed transition's work (the outbox), one per transition. */
  work: message({
    stream: 'work',
    schema: WorkItem,
    subject: (t, w) => t.work(w.transition.action),
    msgId: (w) => w.workId,
  }),
  /** One logged step of an execution. */
  step: message({
    stream: 'workflowEvents',
    schema: StepEvent,
    subject: (t, e) => t.step(e.workflow),
    msgId: (e) => e.eventId,
  }),
  /** An execution started, succeeded, was skipped or failed. */
  execution: message({
    stream: 'workflowEvents',
    schema: ExecutionEvent,
    subject: (t, e) => t.execution(e.workflow),
    msgId: (e) => e.eventId,
  }),
  /** Work a workflow gave up on; one per final attempt. */
  deadLetter: message({
    stream: 'deadLetters',
    schema: DeadLetter,
    subject: (t, d) => t.deadLetter(d.workflow),
    msgId: (d) => `${d.workflow}:${d.work.workId}:${d.attempts}`,
  }),
} as const;

export type StreamMessageName = keyof typeof streamMessages;
