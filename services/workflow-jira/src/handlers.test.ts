import { describe, expect, it } from 'vitest';
import { createHttpClient, handlerTableMismatches } from '@patchflow/workflow-runtime';
import { jiraHandlers } from './handlers.js';
import { InMemoryIssuePositions } from './issue-positions.js';
import { JiraClient } from './jira-client.js';
import { defaultJiraStatusMap } from './jira-status-map.js';
import { MoveIssue } from './move-issue.js';

describe('jira handler table', () => {
  it('agrees with the routing table both ways', () => {
    const move = new MoveIssue(
      new JiraClient(createHttpClient({ timeoutMs: 1000 }), undefined),
      defaultJiraStatusMap,
      new InMemoryIssuePositions(),
    );
    expect(handlerTableMismatches('jira', jiraHandlers(move))).toEqual([]);
  });
});
