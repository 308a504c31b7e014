import { NotConfigured, type HttpClient } from '@patchflow/workflow-runtime';
import type { SlackMessage } from './slack-message.js';

/**
 * Port: posts one message to the configured channel. At-least-once: Slack has no idempotency
 * key, so the handler records the post before the ack.
 */
export interface SlackPoster {
  post(message: SlackMessage, signal: AbortSignal): Promise<void>;
}

/**
 * A Slack incoming webhook. At-least-once: Slack has no idempotency key, so a crash
 * between the post and its record can post twice. The URL is a secret and never logged.
 */
export class SlackWebhook implements SlackPoster {
  constructor(
    private readonly http: HttpClient,
    private readonly webhookUrl: string | undefined,
  ) {}

  get configured(): boolean {
    return this.webhookUrl !== undefined;
  }

  async post(message: SlackMessage, signal: AbortSignal): Promise<void> {
    if (!this.webhookUrl) throw new NotConfigured('SLACK_WEBHOOK_URL is not set');
    await this.http.send({
      method: 'POST',
      url: this.webhookUrl,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(message),
      what: 'Slack webhook',
      signal,
    });
  }
}
