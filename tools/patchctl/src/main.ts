/**
 * patchctl: the operator CLI. `npx patchctl --help`; every command takes --json and --help.
 * Exit codes are documented in cli-error.ts (0 ok, 1 a finding or failure, 2 usage/connection).
 */
import { Command, CommanderError } from 'commander';
import { CliError, EXIT, oneLine, output } from './cli-error.js';
import type { Context, GlobalOptions } from './context.js';
import type { dlqDiscard, dlqList, dlqRetry, dlqShow } from './commands/dlq.js';
import type { RebuildOptions } from './commands/rebuild.js';
import type { replayCommand } from './commands/replay.js';
import type { StatusOptions } from './commands/status.js';

// Commands load their modules (NATS, Postgres, zod catalogs) only when they run: --help and usage
// errors answer without them.
const dlq = () => import('./commands/dlq.js');

const EXIT_HELP = `
Exit codes:
  0  done (no finding)
  1  a finding or a failure: retry or replay still failing, dead letter not found, a workflow
     or patch-status not answering, outbox rows left unpublished, a rebuild that failed,
     status --fail-on-dlq / --fail-on-down
  2  usage or connection: bad option, unknown workflow, bad range or duration, a missing
     --reason, NATS or a database unreachable, NATS refusing the credentials

Connection: NATS_URL and the NATS_USER/NATS_PASSWORD (or NATS_CREDS, NATS_TOKEN, NATS_TLS_*)
of the ops user: \`set -a; . DIR/ops.env; set +a\` (DIR from \`npm run nats:config\`).`;

export function buildProgram(run: (ctx: Context, work: (ctx: Context) => Promise<void>) => Promise<void>): Command {
  const program = new Command('patchctl')
    .description('Operate Patchflow: streams, consumers, dead letters, outbox, services, replay, rebuild, lifecycle')
    .option('--json', 'print JSON on stdout (errors: {"error":{code,message}})')
    .option('--nats-url <url>', 'NATS server(s), default $NATS_URL or nats://127.0.0.1:4222')
    .option('--namespace <ns>', 'bus namespace, default $BUS_NAMESPACE or none')
    .option('--timeout <duration>', 'reply timeout of a request (e.g. 5s)', '5s')
    .showHelpAfterError(false)
    .configureHelp({ showGlobalOptions: true })
    .addHelpText('after', EXIT_HELP)
    .exitOverride();

  const action = <A extends unknown[]>(work: (ctx: Context, ...args: A) => Promise<void>) =>
    async function (this: Command, ...args: A) {
      const globals = this.optsWithGlobals<GlobalOptions>();
      const { Context } = await import('./context.js');
      await run(new Context(globals), (ctx) => work(ctx, ...args));
    };

  program
    .command('status')
    .description(
      'streams, durable consumers (lag), open dead letters per workflow, the outbox backlog, running instances (ping), service health',
    )
    .option('--database-url <url>', "patch-status's Postgres (read-only query), default $DATABASE_URL")
    .option('--health <list>', 'health ports to probe: name=port or name=host:port, comma-separated; "none" to skip')
    .option(
      '--health-base <port>',
      "npm start's scheme: patch-status at base, action-log +1, … gateway +6, workflows +7 (default $HEALTH_PORT_BASE or 9101)",
    )
    .option('--ping-wait <duration>', "how long to gather the instances' ping replies (1ms–60s)", '500ms')
    .option('--fail-on-dlq', 'exit 1 when any workflow has open dead letters')
    .option(
      '--fail-on-down',
      "exit 1 when a probed service is not ready, a service has no instance answering the ping, a workflow does not answer or the outbox cannot be read (on npm start's ports, a workflow run in the workflow host, or the host while the workflows run on their own, is not down)",
    )
    .action(action(async (ctx, opts: StatusOptions) => (await import('./commands/status.js')).statusCommand(ctx, opts)));

  const dlqCommand = program.command('dlq').description('dead letters: work a workflow gave up on').exitOverride();
  dlqCommand
    .command('list')
    .description('open dead letters of every workflow (or one), oldest first')
    .option('-w, --workflow <name>', 'only this workflow')
    .option('--include-retried', 'also those a retry closed')
    .option('--limit <n>', 'per workflow, 1–500', '100')
    .action(action(async (ctx, opts: Parameters<typeof dlqList>[1]) => (await dlq()).dlqList(ctx, opts)));
  dlqCommand
    .command('show')
    .description('one dead letter in full (reason, attempts, retries)')
    .argument('<workId>', 'the work item id')
    .option('-w, --workflow <name>', 'only this workflow')
    .action(action(async (ctx, workId: string, opts: Parameters<typeof dlqShow>[2]) => (await dlq()).dlqShow(ctx, workId, opts)));
  dlqCommand
    .command('retry')
    .description('run dead-lettered work again through the workflow, in rounds with backoff while it keeps failing')
    .requiredOption('-w, --workflow <name>', 'the workflow')
    .option('--work-id <uuid>', 'the one item to retry')
    .option('--all', 'every open dead letter of the workflow')
    .option('--attempts <n>', 'rounds at most (an item leaves once it succeeds)', '1')
    .option('--backoff <duration>', 'wait before the 2nd round, doubling after', '2s')
    .option('--max-backoff <duration>', 'longest wait between rounds', '60s')
    .addHelpText('after', '\nExample: patchctl dlq retry --workflow jira --all --attempts 5 --backoff 2s')
    .action(action(async (ctx, opts: Parameters<typeof dlqRetry>[1]) => (await dlq()).dlqRetry(ctx, opts)));
  dlqCommand
    .command('discard')
    .description('close dead letters without running them; the reason and actor stay in the history')
    .requiredOption('-w, --workflow <name>', 'the workflow')
    .option('--work-id <uuid>', 'the one item to discard')
    .option('--all', 'every open dead letter of the workflow')
    .option('--reason <text>', 'why (required; recorded as a step in the history)')
    .option('--actor <name>', 'who (default: the NATS user, e.g. ops)')
    .addHelpText(
      'after',
      '\nExample: patchctl dlq discard -w gitlab --work-id <uuid> --reason "branch deleted, nothing to build"',
    )
    .action(action(async (ctx, opts: Parameters<typeof dlqDiscard>[1]) => (await dlq()).dlqDiscard(ctx, opts)));

  program
    .command('replay')
    .description("choose work from the work stream and run it again through each workflow's runtime (or --dry-run)")
    .option('--from-seq <n>', 'first stream sequence')
    .option('--to-seq <n>', 'last stream sequence')
    .option('--since <time>', 'ISO time or an age such as 2h')
    .option('--until <time>', 'ISO time or an age such as 10m')
    .option('--patch <id>', 'only this patch')
    .option('--action <name>', 'only this action')
    .option('-w, --workflow <name>', 'target this workflow (default: every workflow the item is routed to)')
    .option(
      '--workflow-database-url <url>',
      "the workflows' Postgres (read-only: which items already succeeded), default $WORKFLOW_DATABASE_URL",
    )
    .option('--dry-run', 'list each item and what would happen; change nothing')
    .option('--force', 'run again even what succeeded (a new attempt in the history); needs --reason')
    .option('--reason <text>', 'why (with --force; recorded in the history)')
    .option('--actor <name>', 'who (with --force; default: the NATS user, e.g. ops)')
    .addHelpText(
      'after',
      '\nExamples:\n  patchctl replay --dry-run --since 1h --action startDeployment -w jira\n' +
        '  patchctl replay --since 1h -w jira --force --reason "Jira was misconfigured; tickets not moved"',
    )
    .action(
      action(async (ctx, opts: Parameters<typeof replayCommand>[1]) =>
        (await import('./commands/replay.js')).replayCommand(ctx, opts),
      ),
    );

  const outboxCommand = program
    .command('outbox')
    .description('work committed by patch-status and not yet on the work stream: age, attempts, last error')
    .option('--limit <n>', 'rows shown, 1–500', '100')
    .action(action(async (ctx, opts: { limit?: string }) => (await import('./commands/outbox.js')).outboxList(ctx, opts)));
  outboxCommand
    .command('publish')
    .description("run patch-status's outbox relay now (e.g. right after NATS is back); exit 1 if rows remain")
    .action(action(async (ctx) => (await import('./commands/outbox.js')).outboxPublish(ctx)));

  program
    .command('rebuild')
    .description(
      'rebuild a projection from the streams beside the live one and swap it in (the action history), with a progress bar',
    )
    .argument('<projection>', 'action-log')
    .option('--database-url <url>', "the action-log's Postgres, default $ACTION_LOG_DATABASE_URL")
    .option('--drop', 'drop and re-create the tables with the migrations and replay into them (history partial meanwhile)')
    .action(
      action(async (ctx, what: string, opts: RebuildOptions) =>
        (await import('./commands/rebuild.js')).rebuildCommand(ctx, what, opts),
      ),
    );

  program
    .command('lifecycle')
    .description('the patch lifecycle: statuses, actions (from, to, roles, required fields) and routed workflows')
    .option('--mermaid', 'print a Mermaid stateDiagram instead of tables')
    .action(
      action(async (ctx, opts: { mermaid?: boolean }) => (await import('./commands/lifecycle.js')).lifecycleCommand(ctx, opts)),
    );

  const nested = [...dlqCommand.commands, ...outboxCommand.commands];
  for (const c of [program, ...program.commands, ...nested]) c.exitOverride();
  for (const c of [...program.commands, ...nested]) c.addHelpText('after', EXIT_HELP);
  return program;
}

/** Runs a command: any failure ends as one line on stderr (and JSON under --json) and its exit code. */
async function runCommand(ctx: Context, work: (ctx: Context) => Promise<void>): Promise<void> {
  try {
    await work(ctx);
  } finally {
    await ctx.close();
  }
}

function report(err: unknown, json: boolean): number {
  const e = err instanceof CliError ? err : new CliError(oneLine(err), EXIT.usage, 'internal');
  process.stderr.write(`patchctl: ${e.message}\n`);
  if (json && !output.jsonPrinted) process.stdout.write(`${JSON.stringify({ error: { code: e.code, message: e.message } })}\n`);
  return e.exitCode;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram(runCommand);
  const json = argv.includes('--json');
  // Commander's own error messages (unknown option, missing argument) become our one-line usage
  // errors; help it prints on a missing subcommand still goes to stderr.
  for (const c of [program, ...program.commands, ...program.commands.flatMap((x) => x.commands)])
    c.configureOutput({ outputError: () => undefined });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT.ok;
      if (err.code === 'commander.help' || err.code === 'commander.executeSubCommandAsync') return EXIT.usage;
      return report(new CliError(err.message.replace(/^error: /, ''), EXIT.usage, 'usage'), json);
    }
    return report(err, json);
  }
}

process.exitCode = await main(process.argv.slice(2));
