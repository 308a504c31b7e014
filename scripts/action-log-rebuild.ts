/**
 * Rebuilds the action-log projection from the streams:
 *   node --conditions=development --import tsx scripts/action-log-rebuild.ts [--drop] [--help]
 * Reads ACTION_LOG_DATABASE_URL, NATS_URL, BUS_NAMESPACE, LOG_LEVEL like the service.
 */
import { parseArgs } from 'node:util';
import { Bus } from '@patchflow/bus';
import { parseEnv } from '@patchflow/config';
import { createLogger } from '@patchflow/log';
import { actionLogEnv, openActionLogOrm, rebuildActionLog } from '@patchflow/action-log';

const usage = `Usage: scripts/action-log-rebuild.ts [--drop] [--help]

Empties the action-log's tables and replays the work and workflow-events streams from their first
message, so the projection is rebuilt from the source of truth. Safe while action-log runs: its
durable consumers keep applying new messages and every write is idempotent.

Options:
  --drop   drop the tables and re-create them with the migrations (default: truncate)
  --help   show this text

Environment (same as the service):
  ACTION_LOG_DATABASE_URL  default postgres://root@127.0.0.1:5432/patchflow_action_log
  NATS_URL                 default nats://127.0.0.1:4222
  BUS_NAMESPACE            default empty (production)
  LOG_LEVEL                default info (JSON log lines between the progress lines)
`;

const { values } = parseArgs({ options: { drop: { type: 'boolean', default: false }, help: { type: 'boolean', default: false } } });
if (values.help) {
  process.stdout.write(usage);
  process.exit(0);
}

const env = parseEnv(actionLogEnv);
const logger = createLogger('action-log-rebuild', env.LOG_LEVEL);
const orm = await openActionLogOrm(env.ACTION_LOG_DATABASE_URL, logger);
const bus = await Bus.connect({ url: env.NATS_URL, name: 'action-log-rebuild', namespace: env.BUS_NAMESPACE, logger });
try {
  await bus.ensureStreams(['work', 'workflowEvents']);
  process.stdout.write(`rebuilding the action-log (${values.drop ? 'drop' : 'truncate'}, namespace "${env.BUS_NAMESPACE}")\n`);
  const report = await rebuildActionLog({
    orm,
    bus,
    logger,
    dropTables: values.drop,
    onProgress: (p) => process.stdout.write(`  ${p.stream}: ${p.done}/${p.total} messages\n`),
  });
  process.stdout.write(
    `done: ${report.work} work items, ${report.events} workflow events replayed, ${report.invalid} invalid skipped\n`,
  );
} finally {
  await bus.drain();
  await orm.close();
}
