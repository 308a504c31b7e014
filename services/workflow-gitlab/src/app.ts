import {
  createHttpClient,
  defineWorkflow,
  startWorkflowService,
  type RunningWorkflowService,
  type WorkflowServiceOptions,
} from '@patchflow/workflow-runtime';
import { GitlabPipelineTrigger, type GitlabConfig } from './gitlab-trigger.js';
import { gitlabHandlers } from './handlers.js';
import { TriggerPipeline } from './trigger-pipeline.js';
import { gitlabConfigFromEnv, gitlabEnv } from './env.js';

export interface GitlabWorkflowOptions extends Omit<WorkflowServiceOptions, 'workflow'> {
  /** Unset: every execution is skipped as not configured. */
  gitlab?: GitlabConfig | undefined;
  defaultRef?: string;
  httpTimeoutMs?: number;
}

/** Starts the gitlab workflow in this process (main.ts and tests). */
export async function startGitlabWorkflow(options: GitlabWorkflowOptions): Promise<RunningWorkflowService> {
  const { gitlab, defaultRef = 'main', httpTimeoutMs = 10_000, ...runtime } = options;
  const trigger = new GitlabPipelineTrigger(createHttpClient({ timeoutMs: httpTimeoutMs }), gitlab);
  const service = await startWorkflowService({ ...runtime, workflow: 'gitlab' }, () =>
    gitlabHandlers(new TriggerPipeline(trigger, defaultRef)),
  );
  service.logger.info({ gitlabConfigured: trigger.configured, projectId: gitlab?.projectId }, 'workflow-gitlab started');
  return service;
}

/** The gitlab workflow: what its own process (main.ts) and the workflow host (services/workflows) run. */
export const gitlabWorkflow = defineWorkflow({
  workflow: 'gitlab',
  summary: 'triggers a GitLab pipeline on markActive and startDeployment',
  env: gitlabEnv,
  start: (env, runtime) =>
    startGitlabWorkflow({
      ...runtime,
      gitlab: gitlabConfigFromEnv(env),
      defaultRef: env.GITLAB_DEFAULT_REF,
      httpTimeoutMs: env.HTTP_TIMEOUT_MS,
    }),
});
