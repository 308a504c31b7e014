import {
  createHttpClient,
  defineWorkflow,
  startWorkflowService,
  type RunningWorkflowService,
  type WorkflowServiceOptions,
} from '@patchflow/workflow-runtime';
import { slackHandlers } from './handlers.js';
import { SlackWebhook } from './slack-webhook.js';
import { slackEnv } from './env.js';

export interface SlackWorkflowOptions extends Omit<WorkflowServiceOptions, 'workflow'> {
  /** Unset: every execution is skipped as not configured. */
  webhookUrl?: string | undefined;
  httpTimeoutMs?: number;
}

/** Starts the slack workflow in this process (main.ts and tests). */
export async function startSlackWorkflow(options: SlackWorkflowOptions): Promise<RunningWorkflowService> {
  const { webhookUrl, httpTimeoutMs = 10_000, ...runtime } = options;
  const slack = new SlackWebhook(createHttpClient({ timeoutMs: httpTimeoutMs }), webhookUrl);
  const service = await startWorkflowService({ ...runtime, workflow: 'slack' }, () => slackHandlers(slack));
  service.logger.info({ slackConfigured: slack.configured }, 'workflow-slack started');
  return service;
}

/** The slack workflow: what its own process (main.ts) and the workflow host (services/workflows) run. */
export const slackWorkflow = defineWorkflow({
  workflow: 'slack',
  summary: 'posts every transition to a Slack incoming webhook',
  env: slackEnv,
  start: (env, runtime) =>
    startSlackWorkflow({ ...runtime, webhookUrl: env.SLACK_WEBHOOK_URL, httpTimeoutMs: env.HTTP_TIMEOUT_MS }),
});
