import { z } from 'zod';
import { workflowEnv } from '@patchflow/workflow-runtime';

export const gitlabEnv = z.object({
  /** NATS, namespace, log level, the workflows' database, retry and ack-wait tuning (see libs/workflow-runtime). */
  ...workflowEnv,
  /** GitLab base URL, e.g. https://gitlab.example.com. Unset → executions are "skipped: not configured". */
  GITLAB_URL: z.url().optional(),
  /** The project whose pipeline is triggered: numeric id or URL-encoded path (group%2Fproject). */
  GITLAB_PROJECT_ID: z.string().min(1).optional(),
  /** Pipeline trigger token (a secret: never logged). */
  GITLAB_TRIGGER_TOKEN: z.string().min(1).optional(),
  /** Ref to run when the patch has no gitRef. */
  GITLAB_DEFAULT_REF: z.string().min(1).default('main'),
});
export type GitlabEnv = z.infer<typeof gitlabEnv>;
