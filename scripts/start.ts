/**
 * `npm start` after its command line (scripts/start.mjs parses it, checks the ports and installs,
 * then calls `supervise`): checks Postgres and NATS in one line each, creates the databases and
 * JetStream streams, makes a development token when none is configured, then hands the services
 * to the Supervisor (scripts/supervisor.ts) and prints the banner once every one is ready.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { z } from 'zod';
import { Bus, BusUnreachableError } from '@patchflow/bus';
import { commonEnv, envInt, EnvError, natsConnection, parseEnv, readEnvFile } from '@patchflow/config';
import { checkDatabase, DatabaseUnreachableError, ensureDatabase } from '@patchflow/db';
import { createLogger } from '@patchflow/log';
import { hostedWorkflows } from '@patchflow/workflows';
import { say, Supervisor } from './supervisor.js';

export interface SuperviseOptions {
  /** The services to run, in start order (names of folders under services/). */
  services: string[];
  /** Every service's health port (HEALTH_PORT). */
  healthPorts: Record<string, number>;
  /** Directory of per-service NATS credentials (`npm run nats:config`). */
  natsCredentials?: string | undefined;
}

const runnerEnv = z.object({
  ...commonEnv,
  /** Only to print the address; the gateway reads it itself. */
  GATEWAY_PORT: envInt(1, 65_535).default(8080),
  GATEWAY_HOST: z.string().min(1).default('127.0.0.1'),
});

/** Starts everything and supervises it until a signal or a crash loop ends the run (exits the process). */
export async function supervise(options: SuperviseOptions): Promise<void> {
  // A closed terminal or pipe must not kill the supervisor before it has stopped its children.
  process.stdout.on('error', () => undefined);
  process.stderr.on('error', () => undefined);
  try {
    await run(options);
  } catch (err) {
    if (err instanceof EnvError || err instanceof DatabaseUnreachableError || err instanceof BusUnreachableError) {
      console.error(`patchflow: ${err.message.replace(/\n\s*/g, ' ')}`);
      process.exit(err instanceof EnvError ? 2 : 1);
    }
    console.error(err);
    process.exit(1);
  }
}

async function run({ services, healthPorts, natsCredentials }: SuperviseOptions): Promise<void> {
  const credentialsOf = (principal: string) => (natsCredentials ? readEnvFile(join(natsCredentials, `${principal}.env`)) : {});
  const env = parseEnv(runnerEnv, { ...process.env, ...credentialsOf('ops') });
  // A wrong WORKFLOWS stops the start here, in one line, before anything runs.
  if (services.includes('workflows')) hostedWorkflows(process.env);
  // Read every credentials file before starting anything: a missing one stops the start here (the
  // workflow host's, DIR/workflows.env, holds each hosted workflow's own under its prefix).
  const serviceEnv = Object.fromEntries(services.map((s) => [s, { ...process.env, ...credentialsOf(s) }]));

  // 1. The servers (start.mjs has checked the ports), each checked with a one-line answer when it is not there.
  const serverUrl = new URL(env.DATABASE_URL);
  serverUrl.pathname = '/postgres';
  await checkDatabase(serverUrl.toString());
  const bus = await Bus.connect({
    ...natsConnection(env),
    name: 'start',
    namespace: env.BUS_NAMESPACE,
    logger: createLogger('start', 'warn'),
  });

  // 2. Databases and streams.
  const defaults: Record<string, string> = {
    ACTION_LOG_DATABASE_URL: 'postgres://root@127.0.0.1:5432/patchflow_action_log',
    WORKFLOW_DATABASE_URL: 'postgres://root@127.0.0.1:5432/patchflow_workflows',
  };
  for (const v of ['DATABASE_URL', 'ACTION_LOG_DATABASE_URL', 'WORKFLOW_DATABASE_URL']) {
    const url = process.env[v] || defaults[v] || env.DATABASE_URL;
    if (await ensureDatabase(url)) say(`created database ${new URL(url).pathname.slice(1)}`);
  }
  await bus.ensureStreams();
  say(
    `streams ready: ${Object.values(bus.topology.streams)
      .map((s) => s.name)
      .join(', ')}`,
  );
  await bus.close();

  // 3. The gateway admits no anonymous caller: without configured tokens, make one for this run.
  let devToken: string | undefined;
  if (!process.env.GATEWAY_TOKENS && services.includes('gateway')) {
    devToken = randomBytes(18).toString('base64url');
    for (const e of Object.values(serviceEnv)) e.GATEWAY_TOKENS = `dev:admin:${devToken}`;
  }

  // 4. The services, supervised.
  const supervisor = new Supervisor(
    services.map((name, i) => ({ name, color: i, healthPort: healthPorts[name]!, env: serviceEnv[name]! })),
  );
  supervisor.start();
  say(
    `starting ${services.join(', ')}; waiting until each answers ready (health ports ${services.map((s) => healthPorts[s]).join(', ')})`,
  );
  await supervisor.allReady();
  const lines = [services.length === 1 ? `${services[0]} is ready` : `all ${services.length} services are ready`];
  if (services.includes('gateway')) {
    lines.push(
      `Action History UI: http://${env.GATEWAY_HOST === '0.0.0.0' ? '127.0.0.1' : env.GATEWAY_HOST}:${env.GATEWAY_PORT}/`,
    );
    if (devToken) lines.push(`Sign in with the development admin token ${devToken} (set GATEWAY_TOKENS to choose your own)`);
  }
  console.log(`\n${lines.map((l) => `  ${l}`).join('\n')}\n`);
}
