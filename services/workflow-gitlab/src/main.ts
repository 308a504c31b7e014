import { exitWithHelpIfAsked, HealthServer, parseEnv, startOrExit, stopOnSignals } from '@patchflow/config';
import { workflowOptionsFromEnv } from '@patchflow/workflow-runtime';
import { startGitlabWorkflow } from './app.js';
import { gitlabConfigFromEnv, gitlabEnv } from './env.js';

exitWithHelpIfAsked(`workflow-gitlab — triggers a GitLab pipeline on markActive and startDeployment

Usage: npm start -w @patchflow/workflow-gitlab

Environment: ${Object.keys(gitlabEnv.shape).join(', ')}
(see services/workflow-gitlab/README.md and src/env.ts).`);

// Composition root: environment → workflow service; SIGTERM/SIGINT stop it (stop pulling,
// finish or nak in-flight work, drain the bus, close the database pool).
// The health port first: /readyz answers 503 "starting" until the consumer runs.
const health = await startOrExit('workflow-gitlab', () => HealthServer.start(process.env, 'workflow-gitlab'));
const service = await startOrExit('workflow-gitlab', async () => {
  const env = parseEnv(gitlabEnv);
  return startGitlabWorkflow({
    ...workflowOptionsFromEnv('gitlab', env),
    gitlab: gitlabConfigFromEnv(env),
    defaultRef: env.GITLAB_DEFAULT_REF,
    httpTimeoutMs: env.HTTP_TIMEOUT_MS,
  });
});
// Started means consuming; ready while NATS is connected (the consumer pulls through it).
health.readyWhenAll({ 'NATS is not reachable': () => service.bus.isConnected });
stopOnSignals(() => health.whileStopping(() => service.stop()), service.logger);
