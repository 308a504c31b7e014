import { join } from 'node:path';
import { repoRoot } from '../processes.js';

/**
 * Test-only fault injectors: modules a `ServiceProcess` loads with `node --import` (its `imports`
 * option), so that services need no fault hooks of their own. Paths point at the sources: the
 * built library is not where they live.
 */
export const faultInjectors = {
  /** SIGKILL right after patch-status commits a transition, before its work is published. */
  crashAfterCommit: join(repoRoot, 'libs/testing/src/faults/crash-after-commit.mjs'),
} as const;
