import type { ActionWorkflowService, WorkflowInput, WorkflowResult } from '@patchflow/workflow-runtime';
import { transitionMessage } from './slack-message.js';
import type { SlackPoster } from './slack-webhook.js';

/** Posts a transition to Slack once per work item (the post is recorded before the ack). */
export class NotifyTransition implements ActionWorkflowService {
  constructor(private readonly slack: SlackPoster) {}

  async execute({ work, logger, execution, signal }: WorkflowInput): Promise<WorkflowResult> {
    if (execution.externalRef.postedAt)
      return { status: 'skipped', reason: `already posted at ${String(execution.externalRef.postedAt)}` };
    const message = transitionMessage(work);
    await this.slack.post(message, signal);
    const postedAt = new Date().toISOString();
    // The id and the step together (libs/workflow-runtime/README.md says why that is safe).
    await Promise.all([
      execution.recordExternalRef({ postedAt }),
      logger.step('notifySlack', `posted to Slack: ${message.text}`, { postedAt }),
    ]);
    return { status: 'succeeded' };
  }
}
