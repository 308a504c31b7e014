import { describe, expect, it } from 'vitest';
import { handlerTableMismatches } from '@patchflow/workflow-runtime';
import { CreateSuccessor } from './create-successor.js';
import { successorHandlers } from './handlers.js';
import type { PatchStatusClient } from './patch-status-client.js';

describe('successor handler table', () => {
  it('agrees with the routing table both ways', () => {
    // The table is built without calling anything: no patch-status client is needed.
    const create = new CreateSuccessor(undefined as unknown as PatchStatusClient);
    expect(handlerTableMismatches('successor', successorHandlers(create))).toEqual([]);
  });
});
