/**
 * One workflow service as its own process, for `bench:workflows -- --cpu` (its CPU is then its
 * own in /proc). The handler is a no-op (`BENCH_HANDLER=noop`) or what a real handler does
 * (`typical`: record an external id, then one step). It answers `stats` over the IPC channel and
 * stops on `stop`. `BENCH_RUNTIME` may name another copy of the runtime's entry (an absolute
 * path to its `index.ts`), to compare a baseline in the same run.
 */
import type * as Runtime from '@patchflow/workflow-runtime';
import type { ActionWorkflowService, WorkflowHandlers } from '@patchflow/workflow-runtime';

const entry = process.env.BENCH_RUNTIME || '@patchflow/workflow-runtime';
const runtime = (await import(entry)) as typeof Runtime;
const typical = process.env.BENCH_HANDLER === 'typical';

const handler: ActionWorkflowService = {
  execute: async ({ logger, execution }) => {
    if (!typical) return;
    await execution.recordExternalRef({ postedAt: Date.now() });
    await logger.step('notify', 'posted', { channel: 'bench' });
  },
};
const handlers: WorkflowHandlers = {
  markActive: handler,
  startDeployment: handler,
  completeDeployment: handler,
  failDeployment: handler,
  close: handler,
  cancel: handler,
};

const service = await runtime.startWorkflowService(
  {
    workflow: 'slack',
    natsUrl: process.env.NATS_URL!,
    namespace: process.env.BUS_NAMESPACE!,
    databaseUrl: process.env.WORKFLOW_DATABASE_URL!,
    // As `npm start` and the end-to-end benchmark run the services.
    logLevel: (process.env.LOG_LEVEL ?? 'info') as 'info',
    concurrency: Number(process.env.WORKFLOW_CONCURRENCY ?? 16),
  },
  () => handlers,
);
process.on('message', (m: unknown) => {
  if (m === 'stats') process.send?.({ stats: service.runtime.stats });
  if (m === 'stop') void service.stop().then(() => process.exit(0));
});
process.send?.('ready');
