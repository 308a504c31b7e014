import { exitWithHelpIfAsked, HealthServer, parseEnv, startOrExit, stopOnSignals } from '@patchflow/config';
import { workflowOptionsFromEnv } from '@patchflow/workflow-runtime';
import { startSuccessorWorkflow } from './app.js';
import { successorEnv } from './env.js';

exitWithHelpIfAsked(`workflow-successor — opens the successor patch (next name, same product) on startDeployment, once per patch

Usage: npm start -w @patchflow/workflow-successor

Environment: ${Object.keys(successorEnv.shape).join(', ')}
(see services/workflow-successor/README.md and src/env.ts).`);

// Composition root: environment → workflow service; SIGTERM/SIGINT stop it (stop pulling,
// finish or nak in-flight work, drain the bus, close the database pool).
// The health port first: /readyz answers 503 "starting" until the consumer runs.
const health = await startOrExit('workflow-successor', () => HealthServer.start(process.env, 'workflow-successor'));
const service = await startOrExit('workflow-successor', async () => {
  const env = parseEnv(successorEnv);
  return startSuccessorWorkflow({
    ...workflowOptionsFromEnv('successor', env),
    patchStatusTimeoutMs: env.PATCH_STATUS_TIMEOUT_MS,
  });
});
// Started means consuming; ready while NATS is connected (the consumer pulls through it).
health.readyWhenAll({ 'NATS is not reachable': () => service.bus.isConnected });
stopOnSignals(() => health.whileStopping(() => service.stop()), service.logger);
