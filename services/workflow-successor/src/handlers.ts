import { routedHandlers, type WorkflowHandlers } from '@patchflow/workflow-runtime';
import type { CreateSuccessor } from './create-successor.js';

/** A successor is opened for the actions routed to successor (contracts/src/routing.ts: startDeployment). */
export function successorHandlers(create: CreateSuccessor): WorkflowHandlers {
  return routedHandlers('successor', create);
}
