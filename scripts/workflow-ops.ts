/**
 * Operator CLI for the workflow services' dead letters (request-reply to the running services).
 * Run `npm run ops:workflows -- --help`.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { Bus } from '@patchflow/bus';
import { EnvError, natsConnection, natsEnv, parseEnv } from '@patchflow/config';
import { workflowNames, workflowOpsEndpoints, type WorkflowName } from '@patchflow/contracts';
import { createLogger } from '@patchflow/log';

const HELP = `Usage: npm run ops:workflows -- <command> [options]

Commands:
  list                      list open dead letters (work a workflow gave up on)
  retry                     re-run dead-lettered work now, in a running instance of the workflow

Options:
  -w, --workflow <name>     ${workflowNames.join(' | ')} (list: default all)
      --work-id <uuid>      retry: the one work item to retry
      --all                 retry: every open dead letter of the workflow
      --include-retried     list: also show dead letters whose retry succeeded
      --json                print JSON instead of a table
      --nats-url <url>      default $NATS_URL or nats://127.0.0.1:4222
                            (credentials: NATS_USER/NATS_PASSWORD etc., e.g. \`set -a; . DIR/ops.env\`)
      --namespace <ns>      bus namespace, default $BUS_NAMESPACE or none
      --timeout-ms <ms>     reply timeout, default 30000 (a retry runs the work before answering)
  -h, --help                this text

Examples:
  npm run ops:workflows -- list
  npm run ops:workflows -- retry --workflow gitlab --work-id 6f1c…
  npm run ops:workflows -- retry --workflow jira --all`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    workflow: { type: 'string', short: 'w' },
    'work-id': { type: 'string' },
    all: { type: 'boolean', default: false },
    'include-retried': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    'nats-url': { type: 'string', default: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' },
    namespace: { type: 'string', default: process.env.BUS_NAMESPACE ?? '' },
    'timeout-ms': { type: 'string', default: '30000' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

function fail(message: string): never {
  process.stderr.write(`${message}\n\n${HELP}\n`);
  process.exit(2);
}

const command = positionals[0];
if (values.help || !command) {
  process.stdout.write(`${HELP}\n`);
  process.exit(values.help ? 0 : 2);
}
const isWorkflow = (w: string): w is WorkflowName => (workflowNames as readonly string[]).includes(w);
if (values.workflow !== undefined && !isWorkflow(values.workflow)) fail(`unknown workflow "${values.workflow}"`);
const timeoutMs = Number(values['timeout-ms']);

let nats;
try {
  nats = natsConnection(parseEnv(z.object(natsEnv), { ...process.env, NATS_URL: values['nats-url'] }));
} catch (err) {
  fail(err instanceof EnvError ? err.message : String(err));
}
const bus = await Bus.connect({
  url: nats.url,
  auth: nats.auth,
  name: 'workflow-ops',
  namespace: values.namespace,
  logger: createLogger('workflow-ops', 'warn'),
}).catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));

try {
  if (command === 'list') {
    const workflows = values.workflow ? [values.workflow as WorkflowName] : [...workflowNames];
    const rows = [];
    let unanswered = 0;
    for (const w of workflows) {
      const reply = await bus.request(
        workflowOpsEndpoints(w).listDeadLetters,
        { includeRetried: values['include-retried'] },
        { timeoutMs },
      );
      if (!reply.ok) {
        process.stderr.write(`${w}: ${reply.error.code}: ${reply.error.message}\n`);
        unanswered++;
        continue;
      }
      rows.push(...reply.result.items);
    }
    if (unanswered > 0) process.exitCode = 1;
    if (values.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    else if (rows.length === 0) process.stdout.write(unanswered === workflows.length ? '' : 'no dead letters\n');
    else {
      for (const r of rows) {
        process.stdout.write(
          `${r.workflow}\t${r.workId}\t${r.action}\t${r.patchName}\tattempts=${r.attempts}\tretries=${r.retries}\t${r.deadLetteredAt}${r.retriedAt ? `\tretried ${r.retriedAt}` : ''}\n    ${r.reason}\n`,
        );
      }
    }
  } else if (command === 'retry') {
    if (!values.workflow) fail('retry needs --workflow');
    if (!values['work-id'] === !values.all) fail('retry needs either --work-id <uuid> or --all');
    const request = values.all ? { all: true } : { workId: values['work-id']! };
    const reply = await bus.request(workflowOpsEndpoints(values.workflow as WorkflowName).retryDeadLetters, request, {
      timeoutMs,
    });
    if (!reply.ok) {
      process.stderr.write(`${reply.error.code}: ${reply.error.message}\n`);
      process.exitCode = 1;
    } else if (values.json) process.stdout.write(`${JSON.stringify(reply.result.outcomes, null, 2)}\n`);
    else {
      if (reply.result.outcomes.length === 0) process.stdout.write('nothing to retry\n');
      for (const o of reply.result.outcomes) process.stdout.write(`${o.workId}\t${o.status}${o.error ? `\t${o.error}` : ''}\n`);
      if (reply.result.outcomes.some((o) => o.status === 'failed')) process.exitCode = 1;
    }
  } else {
    fail(`unknown command "${command}"`);
  }
} finally {
  await bus.close();
}
