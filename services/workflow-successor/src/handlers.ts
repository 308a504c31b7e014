import { noOp, type WorkflowHandlers } from '@patchflow/workflow-runtime';
import type { CreateSuccessor } from './create-successor.js';

/** A successor is opened when a patch's deployment starts; nothing else concerns this workflow. */
export function successorHandlers(create: CreateSuccessor): WorkflowHandlers {
  return {
    markActive: noOp,
    startDeployment: create,
    completeDeployment: noOp,
    failDeployment: noOp,
    close: noOp,
    cancel: noOp,
  };
}
