import { STEP_LINK_KEY, type StepLink } from '@patchflow/contracts';
import type { ActionWorkflowService, WorkflowInput, WorkflowResult } from '@patchflow/workflow-runtime';
import type { PipelineTrigger } from './gitlab-trigger.js';

/**
 * Triggers one pipeline per work item: the pipeline id is recorded before the work is acked,
 * so a redelivery or replay finds it and does not trigger again. The step links the pipeline's
 * page (`link`, shown in the history).
 */
export class TriggerPipeline implements ActionWorkflowService {
  constructor(
    private readonly gitlab: PipelineTrigger,
    private readonly defaultRef: string,
  ) {}

  async execute({ work, patch, logger, execution, signal }: WorkflowInput): Promise<WorkflowResult> {
    const known = execution.externalRef.pipelineId;
    if (known !== undefined)
      return { status: 'skipped', reason: `pipeline ${String(known)} was already triggered for this work` };
    const ref = patch.gitRef ?? this.defaultRef;
    const pipeline = await this.gitlab.trigger(
      ref,
      {
        PATCH_ID: patch.id,
        PATCH_NAME: patch.name,
        PATCH_ACTION: work.transition.action,
        PATCH_STATUS: patch.status,
      },
      signal,
    );
    const link: StepLink = { label: `pipeline #${pipeline.id}`, url: pipeline.webUrl };
    // The id and the step together (libs/workflow-runtime/README.md says why that is safe).
    await Promise.all([
      execution.recordExternalRef({ pipelineId: pipeline.id, webUrl: pipeline.webUrl }),
      logger.step('triggerPipeline', `triggered GitLab pipeline ${pipeline.id} on ${ref}`, {
        pipelineId: pipeline.id,
        webUrl: pipeline.webUrl,
        ref,
        [STEP_LINK_KEY]: link,
      }),
    ]);
    return { status: 'succeeded' };
  }
}
