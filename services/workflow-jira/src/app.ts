import {
  createHttpClient,
  defineWorkflow,
  startWorkflowService,
  type RunningWorkflowService,
  type WorkflowServiceOptions,
} from '@patchflow/workflow-runtime';
import { jiraHandlers } from './handlers.js';
import { JiraClient, type JiraConfig } from './jira-client.js';
import { defaultJiraStatusMap, type JiraStatusMap } from './jira-status-map.js';
import { PgIssuePositions } from './issue-positions.js';
import { MoveIssue } from './move-issue.js';
import { jiraConfigFromEnv, jiraEnv } from './env.js';

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
  // Which transition last moved each issue, in the workflow database (see issue-positions.ts).
  const positions = new PgIssuePositions(runtime.databaseUrl);
  let service: RunningWorkflowService;
  try {
    service = await startWorkflowService({ ...runtime, workflow: 'jira' }, () =>
      jiraHandlers(new MoveIssue(client, statusMap, positions)),
    );
  } catch (err) {
    await positions.close();
    throw err;
  }
  service.logger.info({ jiraConfigured: client.configured, statusMap }, 'workflow-jira started');
  // The pool closes after the runtime stopped: in-flight moves finish first.
  return {
    ...service,
    stop: async () => {
      await service.stop();
      await positions.close().catch(() => undefined);
    },
  };
}

/** The jira workflow: what its own process (main.ts) and the workflow host (services/workflows) run. */
export const jiraWorkflow = defineWorkflow({
  workflow: 'jira',
  summary: "moves the patch's Jira issue to the mapped status and comments on it",
  env: jiraEnv,
  start: (env, runtime) =>
    startJiraWorkflow({
      ...runtime,
      jira: jiraConfigFromEnv(env),
      statusMap: env.JIRA_STATUS_MAP,
      httpTimeoutMs: env.HTTP_TIMEOUT_MS,
    }),
});
