import { z } from 'zod';
import { workflowEnv } from '@patchflow/workflow-runtime';

export const jiraEnv = z.object({
  /** NATS, namespace, log level, the workflows' database, retry and ack-wait tuning (see libs/workflow-runtime). */
  ...workflowEnv,
  /** Jira Cloud base URL, e.g. https://acme.atlassian.net. Unset → executions are "skipped: not configured". */
  JIRA_URL: z.url().optional(),
  /** The account the API token belongs to (Basic auth user). */
  JIRA_EMAIL: z.string().min(1).optional(),
  /** Jira API token (a secret: never logged). */
  JIRA_API_TOKEN: z.string().min(1).optional(),
  /** JSON object patch status → Jira status name, merged over the default (in_deployment → "Ready for QA", …). */
  JIRA_STATUS_MAP: z.string().optional(),
});
export type JiraEnv = z.infer<typeof jiraEnv>;
