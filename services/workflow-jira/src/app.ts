import {
  createHttpClient,
  startWorkflowService,
  type RunningWorkflowService,
  type WorkflowServiceOptions,
} from '@patchflow/workflow-runtime';
import { jiraHandlers } from './handlers.js';
import { JiraClient, type JiraConfig } from './jira-client.js';
import { defaultJiraStatusMap, type JiraStatusMap } from './jira-status-map.js';
import { MoveIssue } from './move-issue.js';

export interface JiraWorkflowOptions extends Omit<WorkflowServiceOptions, 'workflow'> {
  /** Unset: every execution is skipped as not configured. */
  jira?: JiraConfig | undefined;
  statusMap?: JiraStatusMap;
  httpTimeoutMs?: number;
}

/** Starts the jira workflow in this process (main.ts and tests). */
export async function startJiraWorkflow(options: JiraWorkflowOptions): Promise<RunningWorkflowService> {
  const { jira, statusMap = defaultJiraStatusMap, httpTimeoutMs = 10_000, ...runtime } = options;
  const client = new JiraClient(createHttpClient({ timeoutMs: httpTimeoutMs }), jira);
  const service = await startWorkflowService({ ...runtime, workflow: 'jira' }, () => jiraHandlers(new MoveIssue(client, statusMap)));
  service.logger.info({ jiraConfigured: client.configured, statusMap }, 'workflow-jira started');
  return service;
}
