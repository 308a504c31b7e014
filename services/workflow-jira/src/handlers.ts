import { routedHandlers, type WorkflowHandlers } from '@patchflow/workflow-runtime';
import type { MoveIssue } from './move-issue.js';

/** Every action routed to jira (contracts/src/routing.ts) may move the ticket; the status map decides which ones do. */
export function jiraHandlers(move: MoveIssue): WorkflowHandlers {
  return routedHandlers('jira', move);
}
