export { startJiraWorkflow, jiraWorkflow, type JiraWorkflowOptions } from './app.js';
export { jiraConfigFromEnv, jiraEnv, type JiraEnv } from './env.js';
export type { JiraConfig } from './jira-client.js';
export { defaultJiraStatusMap, parseJiraStatusMap, readJiraStatusMap, type JiraStatusMap } from './jira-status-map.js';
