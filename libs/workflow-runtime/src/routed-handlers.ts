import { actionNames, routing, type ActionName, type WorkflowName } from '@patchflow/contracts';
import { noOp, NoOpWorkflowService, type ActionWorkflowService, type WorkflowHandlers } from './workflow-service.js';

/**
 * A workflow's handler table built from the routing table (contracts/src/routing.ts), so which
 * workflows run for an action is written once: every action routed to `workflow` gets
 * `handler` (or `handler(action)`), every other action `noOp`.
 */
export function routedHandlers(
  workflow: WorkflowName,
  handler: ActionWorkflowService | ((action: ActionName) => ActionWorkflowService),
): WorkflowHandlers {
  const pick = typeof handler === 'function' ? handler : () => handler;
  return Object.fromEntries(
    actionNames.map((action) => [action, routing[action].includes(workflow) ? pick(action) : noOp]),
  ) as WorkflowHandlers;
}

/**
 * Where a handler table and the routing table disagree, both ways: an action routed to the
 * workflow that the table ignores (work acked and never done), or an action the table handles
 * that is not routed to it (a handler that never runs). Empty when they agree.
 */
export function handlerTableMismatches(workflow: WorkflowName, table: WorkflowHandlers): string[] {
  const problems: string[] = [];
  for (const action of actionNames) {
    const routed = routing[action].includes(workflow);
    const handled = !(table[action] instanceof NoOpWorkflowService);
    if (routed && !handled) problems.push(`${action} is routed to ${workflow} but its handler table has noOp`);
    if (!routed && handled) problems.push(`${action} has a ${workflow} handler but is not routed to ${workflow}`);
  }
  return problems;
}
