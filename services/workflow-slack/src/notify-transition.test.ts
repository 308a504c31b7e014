import { describe, expect, it } from 'vitest';
import { buildWorkItem, fakeWorkflowInput } from '@patchflow/testing';
import { TransientError } from '@patchflow/workflow-runtime';
import { NotifyTransition } from './notify-transition.js';
import type { SlackMessage } from './slack-message.js';
import type { SlackPoster } from './slack-webhook.js';

/** A SlackPoster that keeps what it was asked to post, or fails with `failure`. */
function fakeSlack(failure?: Error) {
  const posts: SlackMessage[] = [];
  const port: SlackPoster = {
    async post(message) {
      if (failure) throw failure;
      posts.push(message);
    },
  };
  return { port, posts };
}

describe('NotifyTransition', () => {
  it('posts the transition message, records when, and logs the step', async () => {
    const slack = fakeSlack();
    const run = fakeWorkflowInput(buildWorkItem('startDeployment', { name: '2026.48.1', product: 'payments' }, 'carol'));
    expect(await new NotifyTransition(slack.port).execute(run.input)).toEqual({ status: 'succeeded' });
    expect(slack.posts.map((p) => p.text)).toEqual(['payments 2026.48.1: Active → In deployment (Start deployment by carol)']);
    expect(run.recorded).toEqual({ postedAt: expect.any(String) });
    expect(run.steps).toEqual([
      {
        subactionType: 'patch.workflow.startDeployment.notifySlack',
        message: 'posted to Slack: payments 2026.48.1: Active → In deployment (Start deployment by carol)',
        metadata: { postedAt: run.recorded.postedAt },
      },
    ]);
  });

  it('a rerun after the post was recorded skips: Slack hears it once', async () => {
    const slack = fakeSlack();
    const run = fakeWorkflowInput(buildWorkItem('close'), { attempt: 2, externalRef: { postedAt: '2026-11-26T10:00:00.000Z' } });
    expect(await new NotifyTransition(slack.port).execute(run.input)).toEqual({
      status: 'skipped',
      reason: 'already posted at 2026-11-26T10:00:00.000Z',
    });
    expect(slack.posts).toEqual([]);
  });

  it('a failed post records nothing, so the retry posts', async () => {
    const failure = new TransientError('Slack webhook: HTTP 503');
    const run = fakeWorkflowInput(buildWorkItem('cancel'));
    await expect(new NotifyTransition(fakeSlack(failure).port).execute(run.input)).rejects.toBe(failure);
    expect(run.recorded).toEqual({});
    expect(run.steps).toEqual([]);
  });
});
