import { describe, expect, it } from 'vitest';
import { buildWorkItem, fakeWorkflowInput } from '@patchflow/testing';
import { TransientError } from '@patchflow/workflow-runtime';
import type { PipelineTrigger, TriggeredPipeline } from './gitlab-trigger.js';
import { TriggerPipeline } from './trigger-pipeline.js';

/** A PipelineTrigger that remembers each call and answers with the next pipeline id (or fails). */
function fakeTrigger(fail?: Error) {
  const calls: { ref: string; variables: Record<string, string> }[] = [];
  const port: PipelineTrigger = {
    async trigger(ref, variables): Promise<TriggeredPipeline> {
      calls.push({ ref, variables });
      if (fail) throw fail;
      const id = 100 + calls.length;
      return { id, webUrl: `https://gitlab.example/p/-/pipelines/${id}` };
    },
  };
  return { port, calls };
}

describe('TriggerPipeline', () => {
  it('triggers on the default ref with the patch variables, records the pipeline and logs the step', async () => {
    const gitlab = fakeTrigger();
    const work = buildWorkItem('startDeployment', { name: '2026.48.1' });
    const run = fakeWorkflowInput(work);
    expect(await new TriggerPipeline(gitlab.port, 'main').execute(run.input)).toEqual({ status: 'succeeded' });
    expect(gitlab.calls).toEqual([
      {
        ref: 'main',
        variables: {
          PATCH_ID: work.patch.id,
          PATCH_NAME: '2026.48.1',
          PATCH_ACTION: 'startDeployment',
          PATCH_STATUS: 'in_deployment',
        },
      },
    ]);
    expect(run.recorded).toEqual({ pipelineId: 101, webUrl: 'https://gitlab.example/p/-/pipelines/101' });
    expect(run.steps).toEqual([
      {
        subactionType: 'patch.workflow.startDeployment.triggerPipeline',
        message: 'triggered GitLab pipeline 101 on main',
        metadata: {
          pipelineId: 101,
          webUrl: 'https://gitlab.example/p/-/pipelines/101',
          ref: 'main',
          link: { label: 'pipeline #101', url: 'https://gitlab.example/p/-/pipelines/101' },
        },
      },
    ]);
  });

  it("uses the patch's gitRef when it has one", async () => {
    const gitlab = fakeTrigger();
    await new TriggerPipeline(gitlab.port, 'main').execute(
      fakeWorkflowInput(buildWorkItem('markActive', { gitRef: 'release/2026.48' })).input,
    );
    expect(gitlab.calls.map((c) => c.ref)).toEqual(['release/2026.48']);
  });

  it('a rerun that finds the recorded pipeline skips without triggering again', async () => {
    const gitlab = fakeTrigger();
    const run = fakeWorkflowInput(buildWorkItem('markActive'), { attempt: 2, externalRef: { pipelineId: 7 } });
    expect(await new TriggerPipeline(gitlab.port, 'main').execute(run.input)).toEqual({
      status: 'skipped',
      reason: 'pipeline 7 was already triggered for this work',
    });
    expect(gitlab.calls).toEqual([]);
    expect(run.steps).toEqual([]);
  });

  it('a failed trigger records nothing and logs no step (the error decides the retry)', async () => {
    const failure = new TransientError('GitLab pipeline trigger: HTTP 502');
    const run = fakeWorkflowInput(buildWorkItem('markActive'));
    await expect(new TriggerPipeline(fakeTrigger(failure).port, 'main').execute(run.input)).rejects.toBe(failure);
    expect(run.recorded).toEqual({});
    expect(run.steps).toEqual([]);
  });
});
