import { describe, expect, it } from 'vitest';
import { handlerTableMismatches } from '@patchflow/workflow-runtime';
import { slackHandlers } from './handlers.js';

describe('slack handler table', () => {
  it('agrees with the routing table both ways', () => {
    // The table is built without calling anything: a port that refuses every call will do.
    expect(handlerTableMismatches('slack', slackHandlers({ post: () => Promise.reject(new Error('not called')) }))).toEqual([]);
  });
});
