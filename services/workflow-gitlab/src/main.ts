import { exitWithHelpIfAsked, parseEnv, startOrExit, stopOnSignals } from '@patchflow/config';
import { workflowOptionsFromEnv } from '@patchflow/workflow-runtime';
import { startGitlabWorkflow } from './app.js';
import { gitlabEnv } from './env.js';

exitWithHelpIfAsked(`workflow-gitlab — triggers a GitLab pipeline on markActive and startDeployment

Usage: npm start -w @patchflow/workflow-gitlab

Environment: ${Object.keys(gitlabEnv.shape).join(', ')}
(see services/workflow-gitlab/README.md and src/env.ts).`);

// Composition root: environment → workflow service; SIGTERM/SIGINT stop it (stop pulling,
// finish or nak in-flight work, drain the bus, close the database pool).
const service = await startOrExit('workflow-gitlab', async () => {
  const env = parseEnv(gitlabEnv);
  const configured = env.GITLAB_URL && env.GITLAB_PROJECT_ID && env.GITLAB_TRIGGER_TOKEN;
  return startGitlabWorkflow({
    ...workflowOptionsFromEnv('gitlab', env),
    gitlab: configured
      ? { url: env.GITLAB_URL!, projectId: env.GITLAB_PROJECT_ID!, triggerToken: env.GITLAB_TRIGGER_TOKEN! }
      : undefined,
    defaultRef: env.GITLAB_DEFAULT_REF,
    httpTimeoutMs: env.HTTP_TIMEOUT_MS,
  });
});
stopOnSignals(() => service.stop(), service.logger);
