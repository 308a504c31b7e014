import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeJson } from '@patchflow/bus';
import { patchEndpoints, type ListPatchesRequest } from '@patchflow/contracts';
import { startHarness, type Harness } from './harness.js';

// Issue 11's list: sorted by the last change by default, a name search with literal wildcards,
// a restriction to given ids (the gateway's hasFailures), each keyset-paged exactly; and the
// detail's predecessor/successor by name, its creator, and the history found by a work item.

let h: Harness;
beforeAll(async () => {
  h = await startHarness('listing2');
});
afterAll(async () => {
  await h.close();
});

async function all(req: ListPatchesRequest): Promise<string[]> {
  const names: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await h.client.call(patchEndpoints.list, { ...req, limit: 2, ...(cursor ? { cursor } : {}) });
    expect(page.items.length).toBeLessThanOrEqual(2);
    names.push(...page.items.map((p) => p.name));
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return names;
}

describe('list: sort, q and ids', () => {
  const product = 'search';
  const names = ['2027.5.1', '2027.5.2', 'rc_1', 'rc%1', 'RC-big.1', 'plain.1'];
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    for (const name of names) ids[name] = (await h.createPatch({ product, name })).id;
    // Changed after creation, oldest change first: 2027.5.1, then rc_1.
    expect((await h.transition(ids['2027.5.1']!, 'markActive')).ok).toBe(true);
    expect((await h.transition(ids['rc_1']!, 'markActive')).ok).toBe(true);
  });

  it('sorts by the last change by default, paging exactly', async () => {
    expect(await all({ product })).toEqual(['rc_1', '2027.5.1', 'plain.1', 'RC-big.1', 'rc%1', '2027.5.2']);
    expect(await all({ product, sort: 'updated' })).toEqual(await all({ product }));
    expect(await all({ product, sort: 'created' })).toEqual([...names].reverse());
  });

  it('keeps every patch time to whole milliseconds, as the cursor carries it: concurrent creates page exactly', async () => {
    const burst = 'burst';
    const made = await Promise.all(
      Array.from({ length: 30 }, (_, i) => h.createPatch({ product: burst, name: `b${i}.1` }).then((p) => p.name)),
    );
    const sub = await h.sql.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM patch
        WHERE created_at <> date_trunc('milliseconds', created_at) OR updated_at <> date_trunc('milliseconds', updated_at)`,
    );
    expect(sub.rows[0]!.n).toBe(0);
    for (const sort of ['created', 'updated'] as const) {
      const walked = await all({ product: burst, sort });
      expect(walked.length, sort).toBe(30);
      expect(new Set(walked), sort).toEqual(new Set(made));
    }
  });

  it('searches a name substring case-insensitively, % and _ taken literally', async () => {
    expect(await all({ product, q: 'rc' })).toEqual(['rc_1', 'RC-big.1', 'rc%1']);
    expect(await all({ product, q: 'c_' })).toEqual(['rc_1']);
    expect(await all({ product, q: 'c%' })).toEqual(['rc%1']);
    expect(await all({ product, q: '%' })).toEqual(['rc%1']);
    expect(await all({ product, q: '\\' })).toEqual([]);
    expect(await all({ product, q: '2027.5', sort: 'created' })).toEqual(['2027.5.2', '2027.5.1']);
  });

  it('restricts to the given ids before paging', async () => {
    const wanted = [ids['rc%1']!, ids['2027.5.1']!, ids['plain.1']!, randomUUID()];
    expect(await all({ ids: wanted })).toEqual(['2027.5.1', 'plain.1', 'rc%1']);
    expect(await all({ ids: wanted, q: 'rc' })).toEqual(['rc%1']);
    expect(await all({ ids: [] })).toEqual([]);
  });

  it('refuses a cursor of another sort, a bad sort, q too long and bad ids, naming the field', async () => {
    const page = await h.client.call(patchEndpoints.list, { product, limit: 1 });
    const other = await h.client.request(patchEndpoints.list, { product, limit: 1, sort: 'created', cursor: page.nextCursor! });
    expect(other).toMatchObject({ ok: false, error: { code: 'validation_failed', details: { fields: [{ path: 'cursor' }] } } });
    const subject = h.client.topology.subjects.patchList;
    for (const [body, path] of [
      [{ sort: 'name' }, 'sort'],
      [{ q: 'x'.repeat(201) }, 'q'],
      [{ q: '' }, 'q'],
      [{ ids: ['nope'] }, 'ids.0'],
      [{ ids: Array.from({ length: 5001 }, () => randomUUID()) }, 'ids'],
    ] as const) {
      const r = await h.client.requestRaw(subject, encodeJson(body));
      expect(r, JSON.stringify(body).slice(0, 60)).toMatchObject({
        ok: false,
        error: { code: 'validation_failed', details: { fields: [{ path }] } },
      });
    }
  });
});

describe('detail and history', () => {
  it('names the predecessor and the successor, and who created the patch', async () => {
    const first = await h.createPatch({ product: 'chain', name: '2027.9.1' });
    const second = await h.client.call(patchEndpoints.create, {
      name: '2027.9.2',
      product: 'chain',
      predecessorId: first.id,
      actor: 'successor-workflow',
    });
    const a = await h.client.call(patchEndpoints.get, { id: first.id });
    expect(a).toMatchObject({
      patch: { createdBy: 'tester' },
      predecessor: null,
      successor: { id: second.patch.id, name: '2027.9.2' },
      successorId: second.patch.id,
    });
    const b = await h.client.call(patchEndpoints.get, { id: second.patch.id });
    expect(b).toMatchObject({
      patch: { createdBy: 'successor-workflow' },
      predecessor: { id: first.id, name: '2027.9.1' },
      successor: null,
    });
  });

  it('answers the history by a work item, the patch included; an unknown work item is not_found', async () => {
    const p = await h.createPatch({ product: 'history' });
    const t = await h.transition(p.id, 'markActive');
    if (!t.ok) throw new Error('markActive failed');
    const byWork = await h.client.call(patchEndpoints.history, { workId: t.result.transition.workId });
    expect(byWork.patchId).toBe(p.id);
    expect(byWork.patch).toMatchObject({ id: p.id, status: 'active', version: 2 });
    expect(byWork.transitions.map((x) => x.workId)).toEqual([t.result.transition.workId]);
    expect(await h.client.call(patchEndpoints.history, { patchId: p.id })).toEqual(byWork);
    const unknown = await h.client.request(patchEndpoints.history, { workId: randomUUID() });
    expect(unknown).toMatchObject({ ok: false, error: { code: 'not_found' } });
    const both = await h.client.requestRaw(h.client.topology.subjects.patchHistory, encodeJson({}));
    expect(both).toMatchObject({ ok: false, error: { code: 'validation_failed', details: { fields: [{ path: 'patchId' }] } } });
  });
});
