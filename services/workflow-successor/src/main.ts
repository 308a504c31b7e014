import { parseEnv } from '@patchflow/config';
import { startOrExit, stopOnSignals, workflowOptionsFromEnv } from '@patchflow/workflow-runtime';
import { startSuccessorWorkflow } from './app.js';
import { successorEnv } from './env.js';

// Composition root: environment → workflow service; SIGTERM/SIGINT stop it (stop pulling,
// finish or nak in-flight work, drain the bus, close the database pool).
const service = await startOrExit(async () => {
  const env = parseEnv(successorEnv);
  return startSuccessorWorkflow({
    ...workflowOptionsFromEnv('successor', env),
    patchStatusTimeoutMs: env.PATCH_STATUS_TIMEOUT_MS,
  });
});
stopOnSignals(() => service.stop(), service.logger);
