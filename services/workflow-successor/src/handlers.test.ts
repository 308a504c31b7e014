import { describe, expect, it } from 'vitest';
import { handlerTableMismatches } from '@patchflow/workflow-runtime';
import { CreateSuccessor } from './create-successor.js';
import { successorHandlers } from './handlers.js';

describe('successor handler table', () => {
  it('agrees with the routing table both ways', () => {
    // The table is built without calling anything: a port that refuses every call will do.
    const create = new CreateSuccessor({ createSuccessor: () => Promise.reject(new Error('not called')) });
    expect(handlerTableMismatches('successor', successorHandlers(create))).toEqual([]);
  });
});
