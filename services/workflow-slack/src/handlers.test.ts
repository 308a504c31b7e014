import { describe, expect, it } from 'vitest';
import { createHttpClient, handlerTableMismatches } from '@patchflow/workflow-runtime';
import { slackHandlers } from './handlers.js';
import { SlackWebhook } from './slack-webhook.js';

describe('slack handler table', () => {
  it('agrees with the routing table both ways', () => {
    expect(handlerTableMismatches('slack', slackHandlers(new SlackWebhook(createHttpClient({ timeoutMs: 1000 }), undefined)))).toEqual([]);
  });
});
