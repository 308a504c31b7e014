export {
  executionStatuses,
  WorkflowExecutionSchema,
  type ExecutionRecordStatus,
  type WorkflowExecution,
} from './workflow-execution.js';
export { WorkflowDeadLetterSchema, type WorkflowDeadLetter } from './workflow-dead-letter.js';
export { JiraIssuePositionSchema, type JiraIssuePosition } from './jira-issue-position.js';
export { migrateWorkflowDatabase, openWorkflowOrm, workflowEntities } from './workflow-orm.js';
