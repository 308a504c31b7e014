import type { WorkflowHandlers } from '@patchflow/workflow-runtime';
import { NotifyTransition } from './notify-transition.js';
import type { SlackWebhook } from './slack-webhook.js';

/** Slack hears about every transition. */
export function slackHandlers(slack: SlackWebhook): WorkflowHandlers {
  const notify = new NotifyTransition(slack);
  return {
    markActive: notify,
    startDeployment: notify,
    completeDeployment: notify,
    failDeployment: notify,
    close: notify,
    cancel: notify,
  };
}
