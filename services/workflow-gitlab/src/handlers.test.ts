import { describe, expect, it } from 'vitest';
import { handlerTableMismatches } from '@patchflow/workflow-runtime';
import { gitlabHandlers } from './handlers.js';
import { TriggerPipeline } from './trigger-pipeline.js';

describe('gitlab handler table', () => {
  it('agrees with the routing table both ways', () => {
    // The table is built without calling anything: a port that refuses every call will do.
    const trigger = new TriggerPipeline({ trigger: () => Promise.reject(new Error('not called')) }, 'main');
    expect(handlerTableMismatches('gitlab', gitlabHandlers(trigger))).toEqual([]);
  });
});
