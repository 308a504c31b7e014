import { describe, expect, it } from 'vitest';
import type { ActionLogHistoryResult, ExecutionView, PatchHistoryResult, TransitionView } from '@patchflow/contracts';
import { mergeHistory } from './history-merge.js';

const patchId = '8f1c2a4e-4f7a-4d7e-9c1e-2b1f0c9d3e4a';
const uuid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const at = (s: number) => new Date(Date.UTC(2026, 10, 26, 10, 0, s)).toISOString();

const transition = (
  version: number,
  action: TransitionView['action'],
  from: TransitionView['fromStatus'],
  to: TransitionView['toStatus'],
) =>
  ({
    id: uuid(100 + version),
    patchId,
    action,
    fromStatus: from,
    toStatus: to,
    actor: 'otto',
    reason: null,
    patchVersion: version,
    workId: uuid(version),
    createdAt: at(version * 10),
  }) satisfies TransitionView;

const owner: PatchHistoryResult = {
  patchId,
  patch: {
    id: patchId,
    name: '2026.48.1',
    product: 'payments',
    status: 'deployed',
    version: 4,
    jiraKey: null,
    gitRef: null,
    predecessorId: null,
    createdBy: 'otto',
    createdAt: at(0),
    updatedAt: at(40),
  },
  transitions: [
    transition(2, 'markActive', 'draft', 'active'),
    transition(3, 'startDeployment', 'active', 'in_deployment'),
    transition(4, 'completeDeployment', 'in_deployment', 'deployed'),
  ],
};

const execution = (
  workId: string,
  workflow: ExecutionView['workflow'],
  status: ExecutionView['status'],
  finished: number | null,
) =>
  ({
    workId,
    workflow,
    status,
    attempts: 1,
    lastError: status === 'failed' ? 'boom' : null,
    willRetry: false,
    deadLettered: status === 'failed',
    startedAt: at(21),
    finishedAt: finished === null ? null : at(finished),
    durationMs: null,
    attemptList: [],
    links: [],
    steps: [],
  }) satisfies ExecutionView;

// The action-log knows markActive (settled) and startDeployment (jira dead-lettered, slack still
// running), and has not heard of completeDeployment yet.
const log: ActionLogHistoryResult = {
  patchId,
  entries: [
    {
      workId: uuid(2),
      patchId,
      action: 'markActive',
      transition: owner.transitions[0]!,
      workflows: ['gitlab', 'jira', 'slack'],
      executions: [
        execution(uuid(2), 'gitlab', 'succeeded', 25),
        execution(uuid(2), 'jira', 'skipped', 22),
        execution(uuid(2), 'slack', 'succeeded', 27),
      ],
    },
    {
      workId: uuid(3),
      patchId,
      action: 'startDeployment',
      transition: null,
      workflows: [],
      executions: [execution(uuid(3), 'jira', 'failed', 33), execution(uuid(3), 'slack', 'running', null)],
    },
  ],
  nextCursor: null,
  knownWorkIds: [uuid(2), uuid(3)],
  open: {
    running: [
      { workId: uuid(3), action: 'startDeployment', workflow: 'successor' },
      { workId: uuid(3), action: 'startDeployment', workflow: 'slack' },
    ],
    failed: [{ workId: uuid(3), action: 'startDeployment', workflow: 'jira' }],
  },
};

describe('mergeHistory', () => {
  const page = mergeHistory(owner, log, { afterVersion: 0, limit: 50 }, new Date(Date.parse(at(100))));

  it('has every transition, with the executions the action-log knows and pending ones for the rest', () => {
    expect(page.entries.map((e) => [e.action, e.transition.id])).toEqual([
      ['markActive', uuid(102)],
      ['startDeployment', uuid(103)],
      ['completeDeployment', uuid(104)],
    ]);
    // Unknown work item routing falls back to the routing table, in its order.
    expect(page.entries[1]!.workflows).toEqual(['successor', 'gitlab', 'jira', 'slack']);
    expect(page.entries[1]!.executions.map((e) => `${e.workflow}:${e.status}`)).toEqual([
      'successor:pending',
      'gitlab:pending',
      'jira:failed',
      'slack:running',
    ]);
    expect(page.entries[2]!.executions.map((e) => `${e.workflow}:${e.status}`)).toEqual(['jira:pending', 'slack:pending']);
  });

  it('settles each transition from its executions', () => {
    expect(page.entries[0]).toMatchObject({ settled: true, settledAt: at(27), settleMs: 7_000, effects: 'settled' });
    expect(page.entries[1]).toMatchObject({
      settled: false,
      settledAt: null,
      effects: 'running',
      running: ['successor', 'gitlab', 'slack'],
      failed: ['jira'],
    });
    expect(page.entries[2]).toMatchObject({ settled: false, running: ['jira', 'slack'] });
  });

  it("lists the whole patch's effects, the transitions the action-log has not seen included", () => {
    expect(page.effects.state).toBe('running');
    expect(page.effects.failed).toEqual([{ workId: uuid(3), action: 'startDeployment', workflow: 'jira' }]);
    expect(page.effects.running.map((r) => `${r.action}/${r.workflow}`)).toEqual([
      'startDeployment/successor',
      'startDeployment/slack',
      'completeDeployment/jira',
      'completeDeployment/slack',
    ]);
  });

  it('derives one stay per status, the current one open until now', () => {
    expect(page.timeInStatus).toEqual([
      { status: 'draft', enteredAt: at(0), leftAt: at(20), durationMs: 20_000 },
      { status: 'active', enteredAt: at(20), leftAt: at(30), durationMs: 10_000 },
      { status: 'in_deployment', enteredAt: at(30), leftAt: at(40), durationMs: 10_000 },
      { status: 'deployed', enteredAt: at(40), leftAt: null, durationMs: 60_000 },
    ]);
    const total = page.timeInStatus.reduce((sum, s) => sum + s.durationMs, 0);
    expect(total).toBe(100_000); // the patch's age at `now`
  });

  it('pages by patch version, and a patch without transitions is one open stay', () => {
    const first = mergeHistory(owner, log, { afterVersion: 0, limit: 2 }, new Date(Date.parse(at(100))));
    expect(first.entries.map((e) => e.transition.patchVersion)).toEqual([2, 3]);
    expect(first.nextCursor).not.toBeNull();
    const rest = mergeHistory(owner, log, { afterVersion: 3, limit: 2 }, new Date(Date.parse(at(100))));
    expect(rest.entries.map((e) => e.transition.patchVersion)).toEqual([4]);
    expect(rest.nextCursor).toBeNull();

    const fresh = mergeHistory(
      { ...owner, patch: { ...owner.patch, status: 'draft' }, transitions: [] },
      { ...log, entries: [], knownWorkIds: [], open: { running: [], failed: [] } },
      { afterVersion: 0, limit: 50 },
      new Date(Date.parse(at(5))),
    );
    expect(fresh).toMatchObject({
      entries: [],
      nextCursor: null,
      effects: { state: 'settled', running: [], failed: [] },
      timeInStatus: [{ status: 'draft', enteredAt: at(0), leftAt: null, durationMs: 5_000 }],
    });
  });
});
