import { describe, expect, it } from 'vitest';
import { createHttpClient, handlerTableMismatches } from '@patchflow/workflow-runtime';
import { GitlabPipelineTrigger } from './gitlab-trigger.js';
import { gitlabHandlers } from './handlers.js';
import { TriggerPipeline } from './trigger-pipeline.js';

describe('gitlab handler table', () => {
  it('agrees with the routing table both ways', () => {
    const trigger = new TriggerPipeline(new GitlabPipelineTrigger(createHttpClient({ timeoutMs: 1000 }), undefined), 'main');
    expect(handlerTableMismatches('gitlab', gitlabHandlers(trigger))).toEqual([]);
  });
});
