import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { patchEndpoints } from '@patchflow/contracts';
import { waitFor } from '@patchflow/testing';
import { startHarness, type Harness } from './harness.js';

// The triggers of the immutable_audit migration, exercised with plain SQL as the tables' owner (a
// superuser here): privileges aside, nobody rewrites the audit trail.

let h: Harness;
let patchId: string;
beforeAll(async () => {
  h = await startHarness('audit', { OUTBOX_RELAY_INTERVAL_MS: '100', OUTBOX_RELAY_GRACE_MS: '0' });
  const patch = await h.createPatch();
  patchId = patch.id;
  for (const action of ['markActive', 'startDeployment'] as const) {
    const r = await h.transition(patchId, action);
    expect(r.ok).toBe(true);
  }
  // Publishing marks the rows: the bookkeeping columns are still writable.
  await waitFor(
    async () => {
      const r = await h.sql.query('SELECT count(*)::int AS n FROM patch_transition_work WHERE published_at IS NULL');
      return r.rows[0].n === 0;
    },
    { what: 'work marked published' },
  );
});
afterAll(async () => {
  await h.close();
});

async function snapshot() {
  const t = await h.sql.query('SELECT * FROM patch_transition ORDER BY patch_version');
  const w = await h.sql.query(
    'SELECT id, transition_id, patch_id, action, payload, created_at FROM patch_transition_work ORDER BY created_at',
  );
  return { t: t.rows, w: w.rows };
}

describe('patch_transition is append-only', () => {
  it('refuses UPDATE, DELETE and TRUNCATE with a message saying why, and nothing changes', async () => {
    const before = await snapshot();
    await expect(h.sql.query(`UPDATE patch_transition SET actor = 'nobody'`)).rejects.toThrow(
      'UPDATE on patch_transition refused: patch_transition is append-only (the audit trail is immutable)',
    );
    await expect(h.sql.query('DELETE FROM patch_transition')).rejects.toThrow(
      'DELETE on patch_transition refused: patch_transition is append-only',
    );
    await expect(h.sql.query('TRUNCATE patch_transition CASCADE')).rejects.toThrow(
      /TRUNCATE on patch_transition(_work)? refused/,
    );
    expect(await snapshot()).toEqual(before);
  });

  it('reports the refusal as SQLSTATE 23001 (restrict_violation)', async () => {
    await expect(h.sql.query('DELETE FROM patch_transition')).rejects.toMatchObject({ code: '23001' });
  });
});

describe('patch_transition_work: the payload and identity are immutable, the bookkeeping is not', () => {
  it.each([
    ['payload', `payload = '{}'::jsonb`],
    ['action', `action = 'close'`],
    ['patch_id', 'patch_id = gen_random_uuid()'],
    ['created_at', 'created_at = now()'],
  ])('refuses an UPDATE of %s', async (_column, set) => {
    const before = await snapshot();
    await expect(h.sql.query(`UPDATE patch_transition_work SET ${set}`)).rejects.toThrow(
      /UPDATE on patch_transition_work refused: a work item's id, transition_id, patch_id, action, payload, created_at never change/,
    );
    expect(await snapshot()).toEqual(before);
  });

  it('refuses DELETE and TRUNCATE', async () => {
    await expect(h.sql.query('DELETE FROM patch_transition_work')).rejects.toThrow(
      'DELETE on patch_transition_work refused: work items are part of the audit trail',
    );
    await expect(h.sql.query('TRUNCATE patch_transition_work')).rejects.toThrow('TRUNCATE on patch_transition_work refused');
    expect(await h.count('patch_transition_work')).toBe(2);
  });

  it('lets the relay record publishes and failures (setting a column to its own value too)', async () => {
    const r = await h.sql.query(
      `UPDATE patch_transition_work
          SET published_at = now(), stream_seq = 42, publish_attempts = publish_attempts + 1,
              last_publish_error = 'test', payload = payload`,
    );
    expect(r.rowCount).toBe(2);
    const reset = await h.sql.query('UPDATE patch_transition_work SET published_at = NULL, last_publish_error = NULL');
    expect(reset.rowCount).toBe(2);
    // …and the relay republishes them, marking them again.
    await waitFor(
      async () => {
        const n = await h.sql.query('SELECT count(*)::int AS n FROM patch_transition_work WHERE published_at IS NULL');
        return n.rows[0].n === 0;
      },
      { what: 'relay marks the rows published', timeoutMs: 15_000 },
    );
  });

  it('the whole lifecycle still works, and its history reads back', async () => {
    for (const action of ['completeDeployment', 'close'] as const) expect((await h.transition(patchId, action)).ok).toBe(true);
    const history = await h.client.call(patchEndpoints.history, { patchId });
    expect(history.transitions.map((t) => t.action)).toEqual(['markActive', 'startDeployment', 'completeDeployment', 'close']);
  });
});
