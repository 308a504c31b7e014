export { startSuccessorWorkflow, successorWorkflow, type SuccessorWorkflowOptions } from './app.js';
export { SUCCESSOR_ACTOR } from './create-successor.js';
export { successorEnv, type SuccessorEnv } from './env.js';
export { nextPatchName } from './next-patch-name.js';
