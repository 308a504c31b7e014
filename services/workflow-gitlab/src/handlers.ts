import { noOp, type WorkflowHandlers } from '@patchflow/workflow-runtime';
import type { TriggerPipeline } from './trigger-pipeline.js';

/** A pipeline runs when a patch becomes active and when its deployment starts. */
export function gitlabHandlers(trigger: TriggerPipeline): WorkflowHandlers {
  return {
    markActive: trigger,
    startDeployment: trigger,
    completeDeployment: noOp,
    failDeployment: noOp,
    close: noOp,
    cancel: noOp,
  };
}
