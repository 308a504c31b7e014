import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '@patchflow/testing';
import { ExecutionStore } from '@patchflow/workflow-runtime';
import { PgIssuePositions } from '../src/issue-positions.js';

// The Postgres guard against backwards moves: per (issue, patch), one guard at a time, and a
// lower patchVersion than the recorded one never runs its move.

let db: TestDatabase;
let positions: PgIssuePositions;
beforeAll(async () => {
  db = await createTestDatabase('jira_positions');
  // The table comes from the workflow database's migrations, which the runtime applies at start.
  await (await ExecutionStore.open(db.url, 'jira', 1)).close();
  positions = new PgIssuePositions(db.url, 5_000);
  // A first guard warms the pool; the tests below time their guards against each other.
  await positions.guard({ jiraKey: 'WARM-1', patchId: randomUUID(), patchVersion: 1, action: 'markActive' }, async () => ({
    status: 'x',
  }));
});
afterAll(async () => {
  await positions.close();
  await db.drop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('PgIssuePositions', () => {
  it('an older move waits for a newer one in flight and is then refused, naming the newer position', async () => {
    const patchId = randomUUID();
    const order: string[] = [];
    const newer = positions.guard({ jiraKey: 'PAY-1', patchId, patchVersion: 3, action: 'startDeployment' }, async () => {
      order.push('newer start');
      await sleep(300);
      order.push('newer end');
      return { status: 'Ready for QA' };
    });
    await sleep(50);
    const older = positions.guard({ jiraKey: 'PAY-1', patchId, patchVersion: 2, action: 'markActive' }, async () => {
      order.push('older ran');
      return { status: 'In Progress' };
    });
    expect(await newer).toEqual({ kind: 'done', status: 'Ready for QA' });
    expect(await older).toEqual({
      kind: 'newer',
      position: { patchVersion: 3, action: 'startDeployment', status: 'Ready for QA' },
    });
    expect(order).toEqual(['newer start', 'newer end']);
  });

  it('a failed move records nothing; the same version may try again, a newer one goes through', async () => {
    const patchId = randomUUID();
    const req = { jiraKey: 'PAY-2', patchId, patchVersion: 2, action: 'markActive' };
    await expect(positions.guard(req, () => Promise.reject(new Error('Jira 503')))).rejects.toThrow('Jira 503');
    expect(await positions.guard(req, async () => ({ status: 'In Progress' }))).toEqual({ kind: 'done', status: 'In Progress' });
    expect(
      await positions.guard({ ...req, patchVersion: 3, action: 'startDeployment' }, async () => ({ status: 'Ready for QA' })),
    ).toEqual({
      kind: 'done',
      status: 'Ready for QA',
    });
    // Another patch's transitions on the same issue are ordered on their own.
    expect(await positions.guard({ ...req, patchId: randomUUID() }, async () => ({ status: 'In Progress' }))).toMatchObject({
      kind: 'done',
    });
  });

  it('keys and statuses with quotes and backslashes (Jira\'s "Won\'t Do") are stored and compared exactly, never as SQL', async () => {
    const patchId = randomUUID();
    const jiraKey = "O'BRIEN-7\\'); DROP TABLE jira_issue_position; --";
    const status = "Won't \\ Do'; --";
    const req = { jiraKey, patchId, patchVersion: 4, action: 'close' };
    expect(await positions.guard(req, async () => ({ status }))).toEqual({ kind: 'done', status });
    // The older transition is refused by the position the awkward key recorded, quoted back as it was.
    expect(await positions.guard({ ...req, patchVersion: 3, action: 'cancel' }, async () => ({ status: 'x' }))).toEqual({
      kind: 'newer',
      position: { patchVersion: 4, action: 'close', status },
    });
  });

  it('a guard that cannot get the lock within its lock timeout fails (the runtime retries it) and moves nothing', async () => {
    const impatient = new PgIssuePositions(db.url, 200);
    try {
      const patchId = randomUUID();
      let release!: () => void;
      const holding = positions.guard({ jiraKey: 'PAY-4', patchId, patchVersion: 2, action: 'markActive' }, async () => {
        await new Promise<void>((r) => (release = r));
        return { status: 'In Progress' };
      });
      await sleep(100);
      let moved = false;
      const waiting = impatient.guard({ jiraKey: 'PAY-4', patchId, patchVersion: 3, action: 'startDeployment' }, async () => {
        moved = true;
        return { status: 'Ready for QA' };
      });
      await expect(waiting).rejects.toMatchObject({ code: '55P03' }); // lock_not_available
      expect(moved).toBe(false);
      release();
      expect(await holding).toEqual({ kind: 'done', status: 'In Progress' });
    } finally {
      await impatient.close();
    }
  });

  it('a patchVersion that is not an integer is refused before any SQL, moves nothing, and holds no connection', async () => {
    const req = { jiraKey: 'PAY-4', patchId: randomUUID(), patchVersion: 1.5, action: 'markActive' };
    let moved = false;
    // More refusals than the pool has connections (4): none may keep one checked out.
    for (let i = 0; i < 6; i += 1) {
      await expect(
        positions.guard(req, async () => {
          moved = true;
          return { status: 'x' };
        }),
      ).rejects.toThrow('patchVersion is not an integer: 1.5');
    }
    expect(moved).toBe(false);
    expect(await positions.guard({ ...req, patchVersion: 2 }, async () => ({ status: 'In Progress' }))).toEqual({
      kind: 'done',
      status: 'In Progress',
    });
  });

  it('on a database the runtime has not migrated: a guard fails naming the missing migration, and moves nothing', async () => {
    const bare = await createTestDatabase('jira_positions_bare');
    const unmigrated = new PgIssuePositions(bare.url, 5_000);
    try {
      let moved = false;
      const guard = unmigrated.guard(
        { jiraKey: 'PAY-3', patchId: randomUUID(), patchVersion: 1, action: 'markActive' },
        async () => {
          moved = true;
          return { status: 'In Progress' };
        },
      );
      await expect(guard).rejects.toThrow(
        'jira_issue_position does not exist: the workflow database is not migrated (the runtime does it at start)',
      );
      expect(moved).toBe(false);
    } finally {
      await unmigrated.close();
      await bare.drop();
    }
  });
});
