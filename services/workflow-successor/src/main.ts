import { exitWithHelpIfAsked, parseEnv, startOrExit, stopOnSignals } from '@patchflow/config';
import { workflowOptionsFromEnv } from '@patchflow/workflow-runtime';
import { startSuccessorWorkflow } from './app.js';
import { successorEnv } from './env.js';

exitWithHelpIfAsked(`workflow-successor — opens the successor patch (next name, same product) on startDeployment, once per patch

Usage: npm start -w @patchflow/workflow-successor

Environment: ${Object.keys(successorEnv.shape).join(', ')}
(see services/workflow-successor/README.md and src/env.ts).`);

// Composition root: environment → workflow service; SIGTERM/SIGINT stop it (stop pulling,
// finish or nak in-flight work, drain the bus, close the database pool).
const service = await startOrExit('workflow-successor', async () => {
  const env = parseEnv(successorEnv);
  return startSuccessorWorkflow({
    ...workflowOptionsFromEnv('successor', env),
    patchStatusTimeoutMs: env.PATCH_STATUS_TIMEOUT_MS,
  });
});
stopOnSignals(() => service.stop(), service.logger);
