import type { ActionName } from './lifecycle-definition.js';

export const workflowNames = ['successor', 'gitlab', 'jira', 'slack'] as const;
export type WorkflowName = (typeof workflowNames)[number];

/**
 * Which workflows run for which action (DESIGN.md's default). Typed against every action, so a new
 * action in the lifecycle fails to compile until someone decides what it triggers.
 */
export const routing: Record<ActionName, readonly WorkflowName[]> = {
  markActive: ['gitlab', 'jira', 'slack'],
  startDeployment: ['successor', 'gitlab', 'jira', 'slack'],
  completeDeployment: ['jira', 'slack'],
  failDeployment: ['jira', 'slack'],
  close: ['jira', 'slack'],
  cancel: ['jira', 'slack'],
};

export function workflowsFor(action: ActionName): readonly WorkflowName[] {
  return routing[action];
}
