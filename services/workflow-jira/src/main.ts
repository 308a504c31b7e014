import { exitWithHelpIfAsked, HealthServer, parseEnv, startOrExit, stopOnSignals } from '@patchflow/config';
import { workflowOptionsFromEnv } from '@patchflow/workflow-runtime';
import { startJiraWorkflow } from './app.js';
import { jiraConfigFromEnv, jiraEnv } from './env.js';

exitWithHelpIfAsked(`workflow-jira — moves the patch's Jira issue to the mapped status and comments on it

Usage: npm start -w @patchflow/workflow-jira

Environment: ${Object.keys(jiraEnv.shape).join(', ')}
(see services/workflow-jira/README.md and src/env.ts).`);

// Composition root: environment → workflow service; SIGTERM/SIGINT stop it (stop pulling,
// finish or nak in-flight work, drain the bus, close the database pool).
// The health port first: /readyz answers 503 "starting" until the consumer runs.
const health = await startOrExit('workflow-jira', () => HealthServer.start(process.env, 'workflow-jira'));
const service = await startOrExit('workflow-jira', async () => {
  const env = parseEnv(jiraEnv);
  return startJiraWorkflow({
    ...workflowOptionsFromEnv('jira', env),
    jira: jiraConfigFromEnv(env),
    statusMap: env.JIRA_STATUS_MAP,
    httpTimeoutMs: env.HTTP_TIMEOUT_MS,
  });
});
// Started means consuming; ready while NATS is connected (the consumer pulls through it).
health.readyWhenAll({ 'NATS is not reachable': () => service.bus.isConnected });
stopOnSignals(() => health.whileStopping(() => service.stop()), service.logger);
