import {
  defineWorkflow,
  startWorkflowService,
  type RunningWorkflowService,
  type WorkflowServiceOptions,
} from '@patchflow/workflow-runtime';
import { CreateSuccessor } from './create-successor.js';
import { successorHandlers } from './handlers.js';
import { PatchStatusClient } from './patch-status-client.js';
import { successorEnv } from './env.js';

export interface SuccessorWorkflowOptions extends Omit<WorkflowServiceOptions, 'workflow'> {
  patchStatusTimeoutMs?: number;
}

/** Starts the successor workflow in this process (main.ts and tests). */
export async function startSuccessorWorkflow(options: SuccessorWorkflowOptions): Promise<RunningWorkflowService> {
  const { patchStatusTimeoutMs = 5000, ...runtime } = options;
  const service = await startWorkflowService({ ...runtime, workflow: 'successor' }, ({ bus }) =>
    successorHandlers(new CreateSuccessor(new PatchStatusClient(bus, patchStatusTimeoutMs))),
  );
  service.logger.info('workflow-successor started');
  return service;
}

/** The successor workflow: what its own process (main.ts) and the workflow host (services/workflows) run. */
export const successorWorkflow = defineWorkflow({
  workflow: 'successor',
  summary: 'opens the successor patch (next name, same product) on startDeployment, once per patch',
  env: successorEnv,
  start: (env, runtime) => startSuccessorWorkflow({ ...runtime, patchStatusTimeoutMs: env.PATCH_STATUS_TIMEOUT_MS }),
});
