import { z } from 'zod';
import { checkWorkflowEnv, workflowEnv } from '@patchflow/workflow-runtime';

export const slackEnv = z
  .object({
    /** NATS, namespace, log level, the workflows' database, retry and ack-wait tuning (see libs/workflow-runtime). */
    ...workflowEnv,
    /** Slack incoming webhook (a secret: never logged). Unset → every execution is "skipped: not configured". */
    SLACK_WEBHOOK_URL: z.url().optional(),
  })
  .superRefine(checkWorkflowEnv);
export type SlackEnv = z.infer<typeof slackEnv>;
