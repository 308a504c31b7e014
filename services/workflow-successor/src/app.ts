import { startWorkflowService, type RunningWorkflowService, type WorkflowServiceOptions } from '@patchflow/workflow-runtime';
import { CreateSuccessor } from './create-successor.js';
import { successorHandlers } from './handlers.js';
import { PatchStatusClient } from './patch-status-client.js';

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
