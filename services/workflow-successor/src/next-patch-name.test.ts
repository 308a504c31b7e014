import { describe, expect, it } from 'vitest';
import { nextPatchName } from './next-patch-name.js';

describe('nextPatchName', () => {
  it.each([
    ['2026.48.1', '2026.48.2'],
    ['2026.48.9', '2026.48.10'],
    ['payments 2026.48.1', 'payments 2026.48.2'],
    ['rc-09', 'rc-10'],
    ['v2-final', 'v3-final'],
    ['hotfix', 'hotfix.2'],
  ])('%s → %s', (name, next) => expect(nextPatchName(name)).toBe(next));
});
