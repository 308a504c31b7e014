import { actionLogEnv, openActionLogOrm, poisonPolicy, rebuildActionLog, type RebuildReport } from '@patchflow/action-log';
import { parseEnv } from '@patchflow/config';
import { createLogger } from '@patchflow/log';
import { CliError, EXIT, findingError, oneLine, usageError } from '../cli-error.js';
import type { Context } from '../context.js';
import { Progress } from '../progress.js';

export interface RebuildOptions {
  databaseUrl?: string;
  drop?: boolean;
}

const redact = (text: string) => text.replace(/\/\/[^@/]*@/, '//***@');

/**
 * `rebuild action-log`: replays the work and workflow-events streams into tables beside the
 * action-log's live ones and swaps them in (services/action-log/src/rebuild.ts; `--drop`: drops and
 * re-migrates the tables and replays into them), with a progress bar per stream on stderr. The
 * service's logs are silenced: the bar, the summary and errors are all this prints. The running
 * action-log keeps consuming and answering meanwhile (with `--drop` its answers are partial until
 * the replay has passed them).
 */
export async function rebuildCommand(ctx: Context, what: string, o: RebuildOptions): Promise<void> {
  if (what !== 'action-log') throw usageError(`rebuild: unknown projection "${what}" (only action-log)`);
  const url = o.databaseUrl ?? ctx.env.ACTION_LOG_DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/patchflow_action_log';
  // Retries of a message that fails to apply, as the service has them (ACTION_LOG_MAX_DELIVERIES, …).
  let policy;
  try {
    const env = parseEnv(
      actionLogEnv.pick({ ACTION_LOG_MAX_DELIVERIES: true, ACTION_LOG_RETRY_BASE_MS: true, ACTION_LOG_RETRY_MAX_MS: true }),
      ctx.env,
    );
    policy = poisonPolicy({
      maxDeliveries: env.ACTION_LOG_MAX_DELIVERIES,
      retryBaseMs: env.ACTION_LOG_RETRY_BASE_MS,
      retryMaxMs: env.ACTION_LOG_RETRY_MAX_MS,
    });
  } catch (err) {
    throw usageError(oneLine(err));
  }
  const bus = await ctx.connect();
  const logger = createLogger('patchctl-rebuild', 'silent');
  let orm;
  try {
    orm = await openActionLogOrm(url, logger);
  } catch (err) {
    throw new CliError(`action-log database: ${redact(oneLine(err))}`, EXIT.usage, 'unreachable');
  }
  const started = Date.now();
  let report: RebuildReport;
  let bar: { stream: string; progress: Progress } | undefined;
  try {
    await bus.ensureStreams(['work', 'workflowEvents']);
    report = await rebuildActionLog({
      orm,
      bus,
      logger,
      dropTables: Boolean(o.drop),
      poisonPolicy: policy,
      onProgress: (p) => {
        if (bar?.stream !== p.stream) {
          bar?.progress.finish();
          bar = { stream: p.stream, progress: new Progress(`replaying ${p.stream}`, p.total, { json: ctx.json }) };
        }
        bar.progress.setTotal(p.total);
        bar.progress.set(p.done);
      },
    });
  } catch (err) {
    throw findingError(`rebuild failed: ${redact(oneLine(err))}`, 'rebuild_failed');
  } finally {
    bar?.progress.finish();
    await orm.close();
  }
  const seconds = (Date.now() - started) / 1000;
  if (ctx.json) return ctx.printJson({ ...report, seconds, mode: o.drop ? 'drop' : 'swap' });
  ctx.table(
    ['WORK ITEMS', 'WORKFLOW EVENTS', 'PARKED', 'INVALID', 'RELEASED', 'SECONDS'],
    [[report.work, report.events, report.parked, report.invalid, report.released, Number(seconds.toFixed(1))]],
  );
  if (report.parked > 0) ctx.note(`${report.parked} message(s) parked: npm run action-log:parked lists them`);
}
