import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nextPatchName, patchEndpoints } from '@patchflow/contracts';
import { startHarness, type Harness } from './harness.js';

// The successor workflow names the next patch nextPatchName(name); a name whose successor would
// not be a valid name (over 200 characters) is refused at create, naming `name`.

let h: Harness;
beforeAll(async () => {
  h = await startHarness('names');
});
afterAll(async () => {
  await h.close();
});

const create = (name: string) => h.client.request(patchEndpoints.create, { name, product: 'names', actor: 'tester' });

describe('a name must leave room for its successor', () => {
  it.each([
    ['200 characters ending in 9 (…9 → …10)', `${'r'.repeat(199)}9`],
    ['200 characters ending in 99 (…99 → …100)', `2026.${'x'.repeat(192)}.99`],
    ['199 characters without a number (+ ".2")', 'n'.repeat(199)],
  ])('refuses %s with validation_failed naming name, and writes nothing', async (_what, name) => {
    expect(name.length).toBeLessThanOrEqual(200);
    expect(nextPatchName(name).length).toBe(201);
    const before = await h.count('patch');
    const r = await create(name);
    expect(r).toMatchObject({ ok: false, error: { code: 'validation_failed', details: { fields: [{ path: 'name' }] } } });
    if (!r.ok) expect(r.error.message).toMatch(/successor's name .* would be invalid/);
    expect(await h.count('patch')).toBe(before);
  });

  it.each([
    ['200 characters ending in 8 (…8 → …9)', `${'r'.repeat(199)}8`],
    ['198 characters without a number', 'n'.repeat(198)],
    ['a zero-padded number that keeps its width (…09 → …10)', `${'p'.repeat(198)}09`],
    ['an ordinary name', '2026.48.1'],
  ])('accepts %s', async (_what, name) => {
    const r = await create(name);
    expect(r).toMatchObject({ ok: true, result: { patch: { name } } });
  });

  it('holds every create to the rule, the successor workflow’s too: a chain stops where the next name would not fit', async () => {
    const name = `${'s'.repeat(198)}.7`;
    expect((await create(name)).ok).toBe(true);
    const successor = nextPatchName(name); // ….8: its own successor ….9 still fits
    expect((await create(successor)).ok).toBe(true);
    const last = nextPatchName(successor); // ….9 would be followed by ….10 (201 characters)
    expect(await create(last)).toMatchObject({
      ok: false,
      error: { code: 'validation_failed', details: { fields: [{ path: 'name' }] } },
    });
  });
});
