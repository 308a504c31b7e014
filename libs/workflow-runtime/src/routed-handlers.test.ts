import { describe, expect, it } from 'vitest';
import { routing, workflowNames } from '@patchflow/contracts';
import { handlerTableMismatches, routedHandlers } from './routed-handlers.js';
import { noOp, type ActionWorkflowService } from './workflow-service.js';

const handler: ActionWorkflowService = { execute: () => Promise.resolve() };

describe('routedHandlers', () => {
  it.each(workflowNames)('gives %s a handler exactly for the actions routed to it', (workflow) => {
    const table = routedHandlers(workflow, handler);
    for (const [action, workflows] of Object.entries(routing)) {
      expect(table[action as keyof typeof routing]).toBe(workflows.includes(workflow) ? handler : noOp);
    }
    expect(handlerTableMismatches(workflow, table)).toEqual([]);
  });
});

describe('handlerTableMismatches', () => {
  it('names an action routed to the workflow that the table ignores, and one it handles unrouted', () => {
    const table = { ...routedHandlers('gitlab', handler), markActive: noOp, close: handler };
    expect(handlerTableMismatches('gitlab', table)).toEqual([
      'markActive is routed to gitlab but its handler table has noOp',
      'close has a gitlab handler but is not routed to gitlab',
    ]);
  });
});
