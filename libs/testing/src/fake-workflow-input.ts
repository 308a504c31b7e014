import type { PatchView, WorkItem } from '@patchflow/contracts';

/** A step a handler logged, as the runtime would publish it. */
export interface RecordedStep {
  subactionType: string;
  message: string;
  metadata: Record<string, unknown>;
}

/**
 * What a workflow handler's `execute` receives (the shape of WorkflowInput in
 * @patchflow/workflow-runtime, spelled out here so this library does not depend on it), with a
 * step log and an execution record that only remember what they were given.
 */
export interface FakeWorkflowInput {
  work: WorkItem;
  patch: PatchView;
  logger: {
    subaction(s: { subactionType: string; message: string; metadata?: Record<string, unknown> }): Promise<void>;
    step(stepName: string, message: string, metadata?: Record<string, unknown>): Promise<void>;
  };
  execution: {
    attempt: number;
    externalRef: Record<string, unknown>;
    recordExternalRef(ref: Record<string, unknown>): Promise<void>;
  };
  signal: AbortSignal;
}

export interface FakeRun {
  input: FakeWorkflowInput;
  /** Every step logged, in order. */
  steps: RecordedStep[];
  /** The external ids as the execution row would hold them: `externalRef` merged with every record. */
  recorded: Record<string, unknown>;
}

/**
 * The input of one execution of `work` for a handler unit test: no bus, no database. Pass
 * `externalRef` (e.g. the `recorded` of an earlier run) to play a rerun after a crash.
 */
export function fakeWorkflowInput(
  work: WorkItem,
  {
    attempt = 1,
    externalRef = {},
    signal = new AbortController().signal,
  }: { attempt?: number; externalRef?: Record<string, unknown>; signal?: AbortSignal } = {},
): FakeRun {
  const steps: RecordedStep[] = [];
  const recorded: Record<string, unknown> = { ...externalRef };
  const logger: FakeWorkflowInput['logger'] = {
    async subaction({ subactionType, message, metadata = {} }) {
      steps.push({ subactionType, message, metadata });
    },
    step(stepName, message, metadata) {
      return logger.subaction({
        subactionType: `patch.workflow.${work.transition.action}.${stepName}`,
        message,
        ...(metadata ? { metadata } : {}),
      });
    },
  };
  return {
    input: {
      work,
      patch: work.patch,
      logger,
      execution: {
        attempt,
        externalRef: { ...externalRef },
        async recordExternalRef(ref) {
          Object.assign(recorded, ref);
        },
      },
      signal,
    },
    steps,
    recorded,
  };
}
