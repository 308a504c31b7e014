import { routedHandlers, type WorkflowHandlers } from '@patchflow/workflow-runtime';
import type { TriggerPipeline } from './trigger-pipeline.js';

/** A pipeline runs for every action routed to gitlab (contracts/src/routing.ts: markActive, startDeployment). */
export function gitlabHandlers(trigger: TriggerPipeline): WorkflowHandlers {
  return routedHandlers('gitlab', trigger);
}
