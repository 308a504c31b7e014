import type { WorkflowHandlers } from '@patchflow/workflow-runtime';
import type { MoveIssue } from './move-issue.js';

/** Every transition may move the ticket; the status map decides which ones do. */
export function jiraHandlers(move: MoveIssue): WorkflowHandlers {
  return {
    markActive: move,
    startDeployment: move,
    completeDeployment: move,
    failDeployment: move,
    close: move,
    cancel: move,
  };
}
