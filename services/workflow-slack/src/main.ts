import { parseEnv } from '@patchflow/config';
import { startOrExit, stopOnSignals, workflowOptionsFromEnv } from '@patchflow/workflow-runtime';
import { startSlackWorkflow } from './app.js';
import { slackEnv } from './env.js';

// Composition root: environment → workflow service; SIGTERM/SIGINT stop it (stop pulling,
// finish or nak in-flight work, drain the bus, close the database pool).
const service = await startOrExit(async () => {
  const env = parseEnv(slackEnv);
  return startSlackWorkflow({
    ...workflowOptionsFromEnv('slack', env),
    webhookUrl: env.SLACK_WEBHOOK_URL,
    httpTimeoutMs: env.HTTP_TIMEOUT_MS,
  });
});
stopOnSignals(() => service.stop(), service.logger);
