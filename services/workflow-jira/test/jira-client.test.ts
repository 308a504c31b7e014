import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeJira } from '@patchflow/testing';
import { createHttpClient, PermanentError } from '@patchflow/workflow-runtime';
import { JiraClient } from '../src/jira-client.js';

let jira: FakeJira;
let client: JiraClient;

beforeAll(async () => {
  jira = await FakeJira.start();
  client = new JiraClient(createHttpClient({ timeoutMs: 2000 }), { url: jira.url, email: jira.email, apiToken: jira.apiToken });
});

afterAll(async () => {
  await jira.close();
});

describe('JiraClient.issueState', () => {
  it('reads the status and the available transitions in one Get issue', async () => {
    jira.addIssue('CLI-1', 'In Progress');
    const state = await client.issueState('CLI-1', AbortSignal.timeout(2000));
    expect(state).toEqual({
      status: 'In Progress',
      transitions: [
        { id: '21', name: 'Ready for QA', toStatus: 'Ready for QA' },
        { id: '31', name: 'Done', toStatus: 'Done' },
        { id: '41', name: 'Reopen', toStatus: 'To Do' },
      ],
    });
    const calls = jira.calls.filter((c) => c.path.includes('CLI-1'));
    expect(calls.map((c) => `${c.method} ${c.path}?${c.query.toString()}`)).toEqual([
      'GET /rest/api/3/issue/CLI-1?fields=status&expand=transitions',
    ]);
  });

  it('an issue without its transitions is a permanent error naming the call', async () => {
    jira.addIssue('CLI-2');
    jira.inject({ status: 200, body: { key: 'CLI-2', fields: { status: { name: 'To Do' } } } });
    const read = client.issueState('CLI-2', AbortSignal.timeout(2000));
    await expect(read).rejects.toBeInstanceOf(PermanentError);
    await expect(read).rejects.toThrow('Jira get issue CLI-2: unexpected response shape');
  });
});

describe('FakeJira', () => {
  it('answers expand=transitions with the same transitions as Get transitions, and echoes expand', async () => {
    jira.addIssue('CLI-3', 'Done');
    const get = (path: string) =>
      fetch(`${jira.url}${path}`, {
        headers: { authorization: `Basic ${Buffer.from(`${jira.email}:${jira.apiToken}`).toString('base64')}` },
      }).then((r) => r.json() as Promise<Record<string, unknown>>);
    const expanded = await get('/rest/api/3/issue/CLI-3?fields=status&expand=transitions');
    const listed = await get('/rest/api/3/issue/CLI-3/transitions');
    expect(expanded.expand).toBe('transitions');
    expect(expanded.transitions).toEqual(listed.transitions);
    expect(listed.transitions).toEqual([
      expect.objectContaining({ id: '41', name: 'Reopen', to: expect.objectContaining({ name: 'To Do' }) }),
    ]);
    const plain = await get('/rest/api/3/issue/CLI-3?fields=status');
    expect(plain).not.toHaveProperty('transitions');
    expect(plain).not.toHaveProperty('expand');
  });
});
