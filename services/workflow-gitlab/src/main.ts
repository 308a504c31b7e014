import { parseEnv } from '@patchflow/config';
import { startOrExit, stopOnSignals, workflowOptionsFromEnv } from '@patchflow/workflow-runtime';
import { startGitlabWorkflow } from './app.js';
import { gitlabEnv } from './env.js';

// Composition root: environment → workflow service; SIGTERM/SIGINT stop it (stop pulling,
// finish or nak in-flight work, drain the bus, close the database pool).
const service = await startOrExit(async () => {
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
