import { z } from 'zod';
import { checkWorkflowEnv, requireAllOrNone, workflowEnv } from '@patchflow/workflow-runtime';
import type { JiraConfig } from './jira-client.js';
import { jiraStatusMapVariable } from './jira-status-map.js';

/** The credentials that only work together: all set, or none (→ "skipped: not configured"). */
const jiraCredentials = ['JIRA_URL', 'JIRA_EMAIL', 'JIRA_API_TOKEN'] as const;

export const jiraEnv = z
  .object({
    /** NATS, namespace, log level, the workflows' database, retry and ack-wait tuning (see libs/workflow-runtime). */
    ...workflowEnv,
    /** Jira Cloud base URL, e.g. https://acme.atlassian.net. Unset (with the two below) → executions are "skipped: not configured". */
    JIRA_URL: z.url().optional(),
    /** The account the API token belongs to (Basic auth user). */
    JIRA_EMAIL: z.string().min(1).optional(),
    /** Jira API token (a secret: never logged). */
    JIRA_API_TOKEN: z.string().min(1).optional(),
    /** JSON object patch status → Jira status name, merged over the default (in_deployment → "Ready for QA", …); parsed here. */
    JIRA_STATUS_MAP: jiraStatusMapVariable,
  })
  .superRefine((env, ctx) => {
    checkWorkflowEnv(env, ctx);
    requireAllOrNone(env, jiraCredentials, ctx);
  });
export type JiraEnv = z.infer<typeof jiraEnv>;

/** The Jira connection of a parsed environment; undefined when none of it is set (the schema refuses a partial set). */
export function jiraConfigFromEnv(env: JiraEnv): JiraConfig | undefined {
  const { JIRA_URL: url, JIRA_EMAIL: email, JIRA_API_TOKEN: apiToken } = env;
  return url !== undefined && email !== undefined && apiToken !== undefined ? { url, email, apiToken } : undefined;
}
