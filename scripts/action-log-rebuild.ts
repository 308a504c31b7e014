/**
 * Rebuilds the action-log projection from the streams:
 *   node --conditions=development --import tsx scripts/action-log-rebuild.ts [--drop] [--help]
 * Reads ACTION_LOG_DATABASE_URL, NATS_URL, BUS_NAMESPACE, LOG_LEVEL like the service.
 */
import { parseArgs } from 'node:util';
import { Bus } from '@patchflow/bus';
import { natsConnection, parseEnv } from '@patchflow/config';
import { createLogger } from '@patchflow/log';
import { actionLogEnv, openActionLogOrm, policyFromEnv, rebuildActionLog } from '@patchflow/action-log';

const usage = `Usage: scripts/action-log-rebuild.ts [--drop] [--help]

Empties the action-log's tables and replays the work and workflow-events streams from their first
message, so the projection is rebuilt from the source of truth: 2,000 messages per transaction,
two transactions at once, progress after each. Safe while action-log runs: its durable consumers
keep applying new messages and every write is idempotent.

A message that cannot be applied is parked (see \`npm run action-log:parked\`) and the replay goes
on; one parked earlier that applies now leaves the parked list. A batch that fails is applied
again message by message, and a message that keeps failing otherwise is retried in place
ACTION_LOG_MAX_DELIVERIES times first.

Options:
  --drop   drop the tables and re-create them with the migrations (default: truncate)
  --help   show this text

Environment (same as the service):
  ACTION_LOG_DATABASE_URL  default postgres://root@127.0.0.1:5432/patchflow_action_log
  NATS_URL                 default nats://127.0.0.1:4222
  BUS_NAMESPACE            default empty (production)
  LOG_LEVEL                default info (JSON log lines between the progress lines)
  ACTION_LOG_MAX_DELIVERIES, ACTION_LOG_RETRY_BASE_MS, ACTION_LOG_RETRY_MAX_MS   as the service
`;

const { values } = parseArgs({
  options: { drop: { type: 'boolean', default: false }, help: { type: 'boolean', default: false } },
});
if (values.help) {
  process.stdout.write(usage);
  process.exit(0);
}

const env = parseEnv(actionLogEnv);
const poisonPolicy = policyFromEnv(env);
const logger = createLogger('action-log-rebuild', env.LOG_LEVEL);
const orm = await openActionLogOrm(env.ACTION_LOG_DATABASE_URL, logger);
const bus = await Bus.connect({ ...natsConnection(env), name: 'action-log-rebuild', namespace: env.BUS_NAMESPACE, logger });
try {
  await bus.ensureStreams(['work', 'workflowEvents']);
  process.stdout.write(`rebuilding the action-log (${values.drop ? 'drop' : 'truncate'}, namespace "${env.BUS_NAMESPACE}")\n`);
  const report = await rebuildActionLog({
    orm,
    bus,
    logger,
    dropTables: values.drop,
    poisonPolicy,
    onProgress: (p) => process.stdout.write(`  ${p.stream}: ${p.done}/${p.total} messages\n`),
  });
  process.stdout.write(
    `done: ${report.work} work items, ${report.events} workflow events replayed; ${report.parked} parked (${report.invalid} invalid), ${report.released} released from the parked list\n`,
  );
} finally {
  await bus.drain();
  await orm.close();
}
