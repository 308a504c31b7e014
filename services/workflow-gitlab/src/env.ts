import { z } from 'zod';
import { checkWorkflowEnv, requireAllOrNone, workflowEnv } from '@patchflow/workflow-runtime';
import type { GitlabConfig } from './gitlab-trigger.js';

/** The credentials that only work together: all set, or none (→ "skipped: not configured"). */
const gitlabCredentials = ['GITLAB_URL', 'GITLAB_PROJECT_ID', 'GITLAB_TRIGGER_TOKEN'] as const;

export const gitlabEnv = z
  .object({
    /** NATS, namespace, log level, the workflows' database, retry and ack-wait tuning (see libs/workflow-runtime). */
    ...workflowEnv,
    /** GitLab base URL, e.g. https://gitlab.example.com. Unset (with the two below) → executions are "skipped: not configured". */
    GITLAB_URL: z.url().optional(),
    /** The project whose pipeline is triggered: numeric id or URL-encoded path (group%2Fproject). */
    GITLAB_PROJECT_ID: z.string().min(1).optional(),
    /** Pipeline trigger token (a secret: never logged). */
    GITLAB_TRIGGER_TOKEN: z.string().min(1).optional(),
    /** Ref to run when the patch has no gitRef. */
    GITLAB_DEFAULT_REF: z.string().min(1).default('main'),
  })
  .superRefine((env, ctx) => {
    checkWorkflowEnv(env, ctx);
    requireAllOrNone(env, gitlabCredentials, ctx);
  });
export type GitlabEnv = z.infer<typeof gitlabEnv>;

/** The GitLab connection of a parsed environment; undefined when none of it is set (the schema refuses a partial set). */
export function gitlabConfigFromEnv(env: GitlabEnv): GitlabConfig | undefined {
  const { GITLAB_URL: url, GITLAB_PROJECT_ID: projectId, GITLAB_TRIGGER_TOKEN: triggerToken } = env;
  return url !== undefined && projectId !== undefined && triggerToken !== undefined
    ? { url, projectId, triggerToken }
    : undefined;
}
