import { routedHandlers, type WorkflowHandlers } from '@patchflow/workflow-runtime';
import { NotifyTransition } from './notify-transition.js';
import type { SlackPoster } from './slack-webhook.js';

/** Slack hears about every action routed to it (contracts/src/routing.ts: all of them). */
export function slackHandlers(slack: SlackPoster): WorkflowHandlers {
  return routedHandlers('slack', new NotifyTransition(slack));
}
