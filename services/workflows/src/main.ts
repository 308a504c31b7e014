import { exitWithHelpIfAsked, HealthServer, startOrExit, stopOnSignals } from '@patchflow/config';
import { workflowNames } from '@patchflow/contracts';
import { hostEnv } from './env.js';
import { startWorkflowHost, workflowDefinitions } from './host.js';

exitWithHelpIfAsked(`workflows — the workflow host: runs several workflows in one process

Usage: npm start -w @patchflow/workflows      (npm start runs it in place of the four workflow-* processes)

Each hosted workflow keeps its own NATS connection, credentials, durable consumer, execution rows,
retries and dead letters, and reads its environment as in its own process (the pool to the
workflow database is shared):
${workflowNames.map((w) => `  ${w.padEnd(10)} ${workflowDefinitions[w].summary}`).join('\n')}

Environment: ${Object.keys(hostEnv.shape).join(', ')}, HEALTH_PORT, HEALTH_HOST, and each hosted
workflow's own (services/workflow-*/README.md). WORKFLOW_<NAME>__<VARIABLE> sets <VARIABLE> for
that workflow alone, e.g. WORKFLOW_GITLAB__NATS_USER and WORKFLOW_GITLAB__NATS_PASSWORD (its own
NATS user; npm run nats:config writes them as DIR/workflows.env, which npm start --
--nats-credentials DIR hands to the host).`);

// Composition root: the health port first (/readyz answers 503 "starting" until every hosted
// consumer runs), then the workflows; ready while each one's NATS connection is up.
const health = await startOrExit('workflows', () => HealthServer.start(process.env, 'workflows'));
const host = await startOrExit('workflows', () => startWorkflowHost(process.env));
health.readyWhenAll(
  Object.fromEntries(
    [...host.services].map(([w, service]) => [`NATS is not reachable (workflow-${w})`, () => service.bus.isConnected]),
  ),
);
stopOnSignals(() => health.whileStopping(() => host.stop()), host.logger);
