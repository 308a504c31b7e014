import { exitWithHelpIfAsked, HealthServer, parseEnv, startOrExit, stopOnSignals } from '@patchflow/config';
import { workflowOptionsFromEnv } from '@patchflow/workflow-runtime';
import { startSlackWorkflow } from './app.js';
import { slackEnv } from './env.js';

exitWithHelpIfAsked(`workflow-slack — posts every transition to a Slack incoming webhook

Usage: npm start -w @patchflow/workflow-slack

Environment: ${Object.keys(slackEnv.shape).join(', ')}
(see services/workflow-slack/README.md and src/env.ts).`);

// Composition root: environment → workflow service; SIGTERM/SIGINT stop it (stop pulling,
// finish or nak in-flight work, drain the bus, close the database pool).
// The health port first: /readyz answers 503 "starting" until the consumer runs.
const health = await startOrExit('workflow-slack', () => HealthServer.start(process.env, 'workflow-slack'));
const service = await startOrExit('workflow-slack', async () => {
  const env = parseEnv(slackEnv);
  return startSlackWorkflow({
    ...workflowOptionsFromEnv('slack', env),
    webhookUrl: env.SLACK_WEBHOOK_URL,
    httpTimeoutMs: env.HTTP_TIMEOUT_MS,
  });
});
// Started means consuming; ready while NATS is connected (the consumer pulls through it).
health.readyWhenAll({ 'NATS is not reachable': () => service.bus.isConnected });
stopOnSignals(() => health.whileStopping(() => service.stop()), service.logger);
