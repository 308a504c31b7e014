import { EntitySchema, type Opt } from '@mikro-orm/core';

/**
 * workflow-jira's guard against moving an issue backwards: per (issue, patch), the newest
 * transition that moved the issue and where it put it. Read and written with plain SQL under a
 * row lock (services/workflow-jira/src/issue-positions.ts); declared here because the workflow
 * database has one set of migrations for all of its tables. A fresh row holds version 0 and
 * empty texts until its first move is recorded.
 */
export interface JiraIssuePosition {
  jiraKey: string;
  patchId: string;
  /** The `patchVersion` of the transition that last moved the issue. */
  patchVersion: number;
  action: string;
  /** The Jira status that move left the issue in. */
  status: string;
  movedAt: Date & Opt;
}

export const JiraIssuePositionSchema = new EntitySchema<JiraIssuePosition>({
  name: 'JiraIssuePosition',
  tableName: 'jira_issue_position',
  properties: {
    jiraKey: { type: 'text', primary: true },
    patchId: { type: 'uuid', primary: true },
    patchVersion: { type: 'integer' },
    action: { type: 'text' },
    status: { type: 'text' },
    movedAt: { type: 'Date', columnType: 'timestamptz', defaultRaw: 'now()' },
  },
});
