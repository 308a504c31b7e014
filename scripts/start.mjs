#!/usr/bin/env node
// `npm start`: the command line (help, flags, service names, health ports) and the install, in
// plain JavaScript so they answer before any dependency exists; then the supervisor
// (scripts/start.ts) in this same process — `npm start` execs node, so a signal sent to the
// npm process reaches this one.
import { existsSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDependencies } from './dependencies.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);

/**
 * Start order: patch-status first (the others call it), the gateway (the door) and the workflow
 * host last — the host came after the others, and last keeps their health ports where they were.
 */
const FIRST = ['patch-status', 'action-log'];
const LAST = ['gateway', 'workflows'];
const services = readdirSync('services')
  .filter((d) => existsSync(join('services', d, 'src', 'main.ts')))
  .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
function rank(s) {
  return FIRST.includes(s) ? FIRST.indexOf(s) - 100 : LAST.includes(s) ? 100 + LAST.indexOf(s) : 0;
}
/** The workflow host runs the workflow-* services in one process; they run on their own with --separate-workflows. */
const HOST = 'workflows';
const isHosted = (s) => s.startsWith('workflow-');

/** One line naming what is wrong and the fix, exit 2: nothing has started. */
function usage(message) {
  console.error(`patchflow: ${message}`);
  process.exit(2);
}

const DEFAULT_HEALTH_PORT_BASE = 9101;
const baseText = process.env.HEALTH_PORT_BASE || String(DEFAULT_HEALTH_PORT_BASE);
const healthPortBase = Number(baseText);
if (!/^\d+$/.test(baseText) || healthPortBase < 1 || healthPortBase + services.length - 1 > 65_535) {
  usage(`HEALTH_PORT_BASE must be a port number from 1 to ${65_536 - services.length} (default ${DEFAULT_HEALTH_PORT_BASE})`);
}
/** Each service's health port: the base plus its place in the full list, whatever --only says. */
const healthPorts = Object.fromEntries(services.map((s, i) => [s, healthPortBase + i]));

const help = `Usage: npm start [-- --only name1,name2] [--separate-workflows] [--nats-credentials DIR]

Starts Patchflow: installs dependencies when needed, checks Postgres and NATS, creates missing
databases and the JetStream streams, runs every service under services/ (each applies its
migrations), and prints the UI address once every service answers ready. The four workflows run
in one process, the workflow host (services/${HOST}): each keeps its own NATS connection, credentials,
consumer and retries, at 27–42% less CPU than four processes. A service that crashes
is restarted with backoff; one that crashes 5 times within a minute stops everything. Ctrl-C or
SIGTERM stops everything.

Options:
  --only a,b                start only these services (e.g. --only patch-status,gateway, or
                            --only workflow-gitlab for one workflow in its own process)
  --separate-workflows      run each workflow-* service as its own process instead of the host
  --nats-credentials DIR    run each service as its own NATS user, with DIR/<service>.env
                            (and streams created as DIR/ops.env); make DIR with npm run nats:config
  --help                    this text

Health ports (GET /healthz alive, GET /readyz 200 ready or 503 with the reason), from
HEALTH_PORT_BASE=${healthPortBase}:
${services.map((s) => `  ${String(healthPorts[s]).padEnd(6)} ${s}${isHosted(s) ? ' (its own process: --separate-workflows, --only)' : ''}`).join('\n')}

Environment: DATABASE_URL, NATS_URL, LOG_LEVEL, BUS_NAMESPACE, GATEWAY_PORT, HEALTH_PORT_BASE,
WORKFLOWS (which workflows the host runs, default all), PATCHFLOW_NO_INSTALL=1 (never run npm
install) and each service's own (README).`;

function parseArgs(argv) {
  const options = { help: false, only: undefined, natsCredentials: undefined, separateWorkflows: false };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    const [flag, inline] =
      arg.startsWith('--') && arg.includes('=')
        ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
        : [arg, undefined];
    if (flag === '--help' || flag === '-h') {
      options.help = true;
    } else if (flag === '--separate-workflows' && inline === undefined) {
      options.separateWorkflows = true;
    } else if (flag === '--only' || flag === '--nats-credentials') {
      const value = inline ?? argv[(i += 1)];
      if (!value || value.startsWith('-')) usage(`${flag} needs a value (see npm start -- --help)`);
      if (flag === '--only') options.only = value;
      else options.natsCredentials = value;
    } else {
      usage(
        `unknown option ${JSON.stringify(arg)}; the options are --only, --separate-workflows, --nats-credentials and --help (npm start -- --help)`,
      );
    }
  }
  return options;
}

const options = parseArgs(process.argv.slice(2));
if (options.help) {
  console.log(help);
  process.exit(0);
}
let selected = services.filter((s) => (options.separateWorkflows ? s !== HOST : !isHosted(s)));
if (options.only !== undefined && options.separateWorkflows) {
  usage('--only and --separate-workflows do not go together: --only names the processes to run (e.g. --only workflow-gitlab)');
}
if (options.only !== undefined) {
  const names = options.only
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = names.filter((n) => !services.includes(n));
  if (names.length === 0 || unknown.length > 0) {
    usage(
      `--only: no service named ${unknown.map((n) => JSON.stringify(n)).join(', ') || '(empty)'}; choose from ${services.join(', ')}`,
    );
  }
  selected = services.filter((s) => names.includes(s));
  const hosted = selected.filter(isHosted);
  if (selected.includes(HOST) && hosted.length > 0) {
    usage(`--only: ${HOST} already runs ${hosted.join(', ')}; name either the host or the workflows`);
  }
}

// Ports before anything else, so a second `npm start` says so at once, in one line.
for (const s of selected) {
  await requireFreePort(
    healthPorts[s],
    '127.0.0.1',
    `the health port of ${s}`,
    'set HEALTH_PORT_BASE to another range (npm start -- --help lists the ports)',
  );
}
const gatewayPort = process.env.GATEWAY_PORT || '8080';
// A malformed GATEWAY_PORT is reported with the other variables by the supervisor.
if (selected.includes('gateway') && /^\d+$/.test(gatewayPort) && Number(gatewayPort) > 0) {
  await requireFreePort(
    Number(gatewayPort),
    process.env.GATEWAY_HOST || '127.0.0.1',
    'GATEWAY_PORT',
    'set GATEWAY_PORT to a free port',
  );
}

if (!ensureDependencies(root, (line) => console.log(`patchflow: ${line}`))) process.exit(1);

// TypeScript from here on: the supervisor and the libraries it uses run from source.
const { register } = await import('tsx/esm/api');
register();
const { supervise } = await import('./start.ts');
await supervise({ services: selected, healthPorts, natsCredentials: options.natsCredentials });

/** One line naming the port, who wants it and the fix, exit 2, when something already listens there. */
async function requireFreePort(port, host, what, fix) {
  const problem = await new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', (err) => resolve(err.code ?? err.message));
    srv.listen(port, host, () => srv.close(() => resolve(undefined)));
  });
  if (problem === 'EADDRINUSE')
    usage(`port ${port} (${what}) is in use on ${host}: is another npm start running? Stop it, or ${fix}`);
  if (problem) usage(`cannot listen on ${host}:${port} (${what}): ${problem}; ${fix}`);
}
