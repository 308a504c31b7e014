/**
 * `npm run nats:config -- --out DIR`: the least-privilege NATS setup, generated from contracts/.
 * Writes DIR/nats-server.conf (one user per service plus `ops`, each with publish/subscribe
 * allow-lists; passwords stored as bcrypt hashes) and DIR/<principal>.env with that principal's
 * credentials (random, mode 0600), and DIR/workflows.env: the workflows' credentials, each under
 * its prefix (`ownVariablePrefix`), for the workflow host. `npm start -- --nats-credentials DIR`
 * runs each service as its own user. With `--cluster-nodes N` it writes DIR/n1.conf … DIR/nN.conf instead: a JetStream
 * cluster of N servers with the same users, and the .env files also name every server
 * (NATS_URL) and STREAM_REPLICAS=3.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import bcrypt from 'bcryptjs';
import { ownVariablePrefix } from '@patchflow/config';
import { busPermissions, busPrincipals, Topology, type BusPermissions } from '@patchflow/contracts';

const HELP = `Usage: npm run nats:config -- --out DIR [options]

Writes a NATS server configuration in which every Patchflow service is its own user and may
publish and subscribe only to what contracts/ says it owns, plus one file of credentials per
service (DIR/<service>.env, mode 0600) and for operator tools (DIR/ops.env), and DIR/workflows.env:
the four workflows' credentials under WORKFLOW_<NAME>__, for the workflow host's container.

Options:
  --out DIR           where to write (created if missing; existing files are replaced)
  --listen HOST:PORT  the server's client address (default 127.0.0.1:4222)
  --store-dir DIR     JetStream storage (default DIR/jetstream)
  --namespace NAME    bus namespace the services run with (default: BUS_NAMESPACE or empty)
  --cluster-nodes N   a JetStream cluster of N (3 to 5) servers on this host: writes DIR/n1.conf …
                      DIR/nN.conf (server_name nK, store DIR/jetstream/nK, routes to all) instead of
                      nats-server.conf; the .env files get NATS_URL (every node) and STREAM_REPLICAS=3
  --cluster-base-port P   with --cluster-nodes: node K listens for clients on P+K-1 and for routes
                      on P+N+K-1 (default 4222), on the host of --listen
  --help              this text

Then: nats-server -c DIR/nats-server.conf   and   npm start -- --nats-credentials DIR
 (cluster: nats-server -c DIR/n1.conf, … one per node)`;

function fail(message: string): never {
  process.stderr.write(`nats:config: ${message}\n`);
  process.exit(2);
}

let parsed;
try {
  parsed = parseArgs({
    options: {
      out: { type: 'string' },
      listen: { type: 'string', default: '127.0.0.1:4222' },
      'store-dir': { type: 'string' },
      namespace: { type: 'string', default: process.env.BUS_NAMESPACE ?? '' },
      'cluster-nodes': { type: 'string' },
      'cluster-base-port': { type: 'string', default: '4222' },
      help: { type: 'boolean', default: false },
    },
    allowPositionals: false,
  });
} catch (err) {
  fail(`${err instanceof Error ? err.message : String(err)} (see --help)`);
}
const { values } = parsed;
if (values.help) {
  process.stdout.write(`${HELP}\n`);
  process.exit(0);
}
if (!values.out) fail('--out DIR is required (see --help)');
if (!/^[A-Za-z0-9.-]*:\d{1,5}$/.test(values.listen)) fail(`--listen "${values.listen}" must be HOST:PORT`);
const nodes = values['cluster-nodes'] === undefined ? 0 : Number(values['cluster-nodes']);
if (values['cluster-nodes'] !== undefined && (!Number.isInteger(nodes) || nodes < 3 || nodes > 5)) {
  // Fewer than 3 cannot keep a majority when one node goes; JetStream allows at most 5 replicas.
  fail(`--cluster-nodes "${values['cluster-nodes']}" must be 3, 4 or 5`);
}
const basePort = Number(values['cluster-base-port']);
if (!Number.isInteger(basePort) || basePort < 1 || basePort + 2 * nodes > 65_536) {
  fail(`--cluster-base-port "${values['cluster-base-port']}" must be a port with room for ${2 * nodes} ports after it`);
}
const host = values.listen.slice(0, values.listen.lastIndexOf(':'));
/** Client and route addresses of node k (1-based). */
const clientPort = (k: number) => basePort + k - 1;
const routePort = (k: number) => basePort + nodes + k - 1;
const clusterUrl = Array.from({ length: nodes }, (_, i) => `nats://${host}:${clientPort(i + 1)}`).join(',');
let topology: Topology;
try {
  topology = new Topology(values.namespace);
} catch (err) {
  fail(err instanceof Error ? err.message : String(err));
}

const out = resolve(values.out);
const storeDir = values['store-dir'] ? resolve(values['store-dir']) : join(out, 'jetstream');
mkdirSync(out, { recursive: true, mode: 0o700 });

/** A NATS config string literal (double quotes: `$` inside stays literal, no variable lookup). */
const q = (s: string) => JSON.stringify(s);
const list = (items: string[]) => `[${items.map(q).join(', ')}]`;

function userBlock(name: string, passwordHash: string, p: BusPermissions): string {
  return [
    '    {',
    `      user: ${q(name)}`,
    `      password: ${q(passwordHash)}`,
    '      permissions: {',
    `        publish: { allow: ${list(p.publish)} }`,
    `        subscribe: { allow: ${list(p.subscribe)} }`,
    ...(p.allowResponses ? ['        allow_responses: true'] : []),
    '      }',
    '    }',
  ].join('\n');
}

/** A secret file: readable by its owner only. */
function writeSecret(file: string, lines: string[]): void {
  writeFileSync(file, [...lines, ''].join('\n'), { mode: 0o600 });
  chmodSync(file, 0o600);
}

const permissions = busPermissions(topology);
const users: string[] = [];
/** What every principal's file adds after its credentials: where the servers are, the namespace. */
const shared = [
  ...(values.namespace ? [`BUS_NAMESPACE=${values.namespace}`] : []),
  ...(nodes ? [`NATS_URL=${clusterUrl}`, 'STREAM_REPLICAS=3'] : []),
];
/** The workflow host's file: each workflow's credentials under its own prefix (services/workflows). */
const hostLines = ['# NATS credentials of the workflow host: each workflow its own user (npm run nats:config; keep secret)'];
for (const principal of busPrincipals) {
  const password = randomBytes(24).toString('base64url');
  users.push(userBlock(principal, bcrypt.hashSync(password, 10), permissions[principal]));
  const own = [`NATS_USER=${principal}`, `NATS_PASSWORD=${password}`, `NATS_INBOX_PREFIX=${permissions[principal].inboxPrefix}`];
  writeSecret(join(out, `${principal}.env`), [
    `# NATS credentials of ${principal} (generated by npm run nats:config; keep secret)`,
    ...own,
    ...shared,
  ]);
  if (principal.startsWith('workflow-')) {
    hostLines.push(...own.map((line) => `${ownVariablePrefix(principal.slice('workflow-'.length))}${line}`));
  }
}
writeSecret(join(out, 'workflows.env'), [...hostLines, ...shared]);

const header = `# Patchflow NATS server configuration, generated from contracts/ by \`npm run nats:config\`.
# One user per service; each may publish and subscribe only to what it owns (DESIGN.md,
# "Who may say what"). Passwords are bcrypt hashes; the clear ones are in <service>.env.`;
const authorization = `authorization {
  users: [
${users.join('\n')}
  ]
}`;

const confFiles: string[] = [];
if (nodes === 0) {
  confFiles.push(join(out, 'nats-server.conf'));
  writeSecret(confFiles[0]!, [
    `${header}
listen: ${q(values.listen)}
jetstream {
  store_dir: ${q(storeDir)}
}
${authorization}`,
  ]);
} else {
  // Every node lists every route (its own included: the server skips itself), so any node
  // restarted alone finds the others.
  const routes = Array.from({ length: nodes }, (_, i) => `nats-route://${host}:${routePort(i + 1)}`);
  for (let k = 1; k <= nodes; k += 1) {
    confFiles.push(join(out, `n${k}.conf`));
    writeSecret(confFiles.at(-1)!, [
      `${header}
# Node ${k} of a ${nodes}-node JetStream cluster (streams replicated STREAM_REPLICAS=3 times).
server_name: ${q(`n${k}`)}
listen: ${q(`${host}:${clientPort(k)}`)}
jetstream {
  store_dir: ${q(join(storeDir, `n${k}`))}
}
cluster {
  name: "patchflow"
  listen: ${q(`${host}:${routePort(k)}`)}
  routes: ${list(routes)}
}
${authorization}`,
    ]);
  }
}

const shown = isAbsolute(values.out) ? out : values.out;
process.stdout.write(
  `wrote ${confFiles.map((f) => join(shown, basename(f))).join(', ')} and ${busPrincipals.length} credential files (${busPrincipals.join(', ')}), plus workflows.env (the workflow host's: each workflow's under WORKFLOW_<NAME>__)\n` +
    `start the server${nodes ? 's' : ''}:   ${confFiles.map((f) => `nats-server -c ${join(shown, basename(f))}`).join(' ; ')}\n` +
    `start Patchflow:    npm start -- --nats-credentials ${shown}\n`,
);
if (!existsSync(storeDir)) process.stdout.write(`JetStream will store its data in ${storeDir}\n`);
