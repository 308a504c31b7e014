import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { logLevels } from '@patchflow/log';

/** How every service reaches NATS and who it is there (see `natsConnection`). */
export const natsEnv = {
  /** NATS with JetStream: one URL or several separated by commas (a cluster). */
  NATS_URL: z
    .string()
    .regex(/^(nats|tls):\/\/[^\s,]+(,\s*(nats|tls):\/\/[^\s,]+)*$/, 'a nats:// URL (or several, comma-separated)')
    .default('nats://127.0.0.1:4222'),
  /** This service's NATS user and password (secret); `npm run nats:config` writes one pair per service. */
  NATS_USER: z.string().min(1).optional(),
  NATS_PASSWORD: z.string().min(1).optional(),
  /** A NATS token instead of a user (secret). */
  NATS_TOKEN: z.string().min(1).optional(),
  /** Path of a NATS `.creds` file (JWT + nkey seed) instead of a user or token. */
  NATS_CREDS: z.string().min(1).optional(),
  /** TLS: the CA that signed the server's certificate, and this client's certificate and key (paths). */
  NATS_TLS_CA: z.string().min(1).optional(),
  NATS_TLS_CERT: z.string().min(1).optional(),
  NATS_TLS_KEY: z.string().min(1).optional(),
  /** Prefix of this service's reply subjects; the generated server config allows only its own. */
  NATS_INBOX_PREFIX: z
    .string()
    .regex(/^_INBOX(_[A-Za-z0-9-]+)?$/, '_INBOX or _INBOX_<name>')
    .default('_INBOX'),
  /**
   * JetStream copies of every stream: 1 on one server, 3 on a 3-node cluster (survives losing a
   * node). Applied when streams are created and to existing ones (by whoever may administer them).
   */
  STREAM_REPLICAS: z.coerce.number().int().min(1).max(5).default(1),
};

/** Tracing: spans exported over OTLP/HTTP (JSON) when set (see `startTracing` in @patchflow/log). */
export const tracingEnv = {
  /** The OpenTelemetry collector's base URL (`/v1/traces` is appended), e.g. http://otel-collector:4318. Unset: no export. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ protocol: /^https?$/, error: 'an http(s) URL of an OTLP/HTTP collector' }).optional(),
};

/** Variables every service reads. */
export const commonEnv = {
  /** Postgres of the service that owns tables; created at start when missing. */
  DATABASE_URL: z.url().default('postgres://root@127.0.0.1:5432/patchflow'),
  ...natsEnv,
  LOG_LEVEL: z.enum(logLevels).default('info'),
  ...tracingEnv,
  /** Prefix for every subject and stream; empty in production, unique per test. */
  BUS_NAMESPACE: z
    .string()
    .regex(/^([a-z][a-z0-9_]{0,31})?$/, 'lowercase letters, digits and "_", starting with a letter')
    .default(''),
};

/** Thrown by `parseEnv`: one line per wrong variable, never the values (they may be secrets). */
export class EnvError extends Error {
  override name = 'EnvError';
}

export function parseEnv<S extends z.ZodObject>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  // Empty strings count as unset, so `FOO= npm start` falls back to the default.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (parsed.success) {
    // The NATS variables depend on each other: check them together, at start, like the rest.
    if ('NATS_URL' in parsed.data) natsConnection(parsed.data as unknown as NatsEnv);
    return parsed.data;
  }
  const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
  throw new EnvError(`invalid environment:\n${lines.join('\n')}`);
}

type NatsEnv = { NATS_URL: string } & Partial<{ [K in keyof typeof natsEnv]: z.infer<(typeof natsEnv)[K]> }>;

/** What `Bus.connect` needs: the URL and this service's credentials (shape of the bus's `NatsAuth`). */
export interface NatsConnection {
  url: string;
  /** JetStream replicas of the streams (`STREAM_REPLICAS`). */
  streamReplicas: number;
  auth: {
    user?: string;
    pass?: string;
    token?: string;
    credsFile?: string;
    tls?: { caFile?: string; certFile?: string; keyFile?: string };
    inboxPrefix: string;
  };
}

/**
 * The NATS connection settings of a parsed environment, checked as a whole: a user needs its
 * password (and the reverse), at most one way to authenticate, a TLS certificate needs its key,
 * and every file named must be readable. Errors name the variables, never their values.
 */
export function natsConnection(env: NatsEnv): NatsConnection {
  const problems: string[] = [];
  if ((env.NATS_USER === undefined) !== (env.NATS_PASSWORD === undefined)) {
    problems.push(
      env.NATS_USER === undefined
        ? 'NATS_PASSWORD is set but NATS_USER is missing'
        : 'NATS_USER is set but NATS_PASSWORD is missing',
    );
  }
  const ways = [env.NATS_USER && 'NATS_USER', env.NATS_TOKEN && 'NATS_TOKEN', env.NATS_CREDS && 'NATS_CREDS'].filter(Boolean);
  if (ways.length > 1) problems.push(`set only one of ${ways.join(', ')}`);
  if ((env.NATS_TLS_CERT === undefined) !== (env.NATS_TLS_KEY === undefined)) {
    problems.push(
      env.NATS_TLS_CERT === undefined
        ? 'NATS_TLS_KEY is set but NATS_TLS_CERT is missing'
        : 'NATS_TLS_CERT is set but NATS_TLS_KEY is missing',
    );
  }
  for (const name of ['NATS_CREDS', 'NATS_TLS_CA', 'NATS_TLS_CERT', 'NATS_TLS_KEY'] as const) {
    const path = env[name];
    if (path === undefined) continue;
    try {
      accessSync(path, constants.R_OK);
    } catch {
      problems.push(`${name}: cannot read the file it names`);
    }
  }
  if (problems.length > 0) throw new EnvError(`invalid environment:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  const tls = { caFile: env.NATS_TLS_CA, certFile: env.NATS_TLS_CERT, keyFile: env.NATS_TLS_KEY };
  return {
    url: env.NATS_URL,
    streamReplicas: env.STREAM_REPLICAS ?? 1,
    auth: {
      ...(env.NATS_USER !== undefined ? { user: env.NATS_USER, pass: env.NATS_PASSWORD } : {}),
      ...(env.NATS_TOKEN !== undefined ? { token: env.NATS_TOKEN } : {}),
      ...(env.NATS_CREDS !== undefined ? { credsFile: env.NATS_CREDS } : {}),
      ...(Object.values(tls).some((v) => v !== undefined)
        ? { tls: Object.fromEntries(Object.entries(tls).filter(([, v]) => v !== undefined)) }
        : {}),
      inboxPrefix: env.NATS_INBOX_PREFIX ?? '_INBOX',
    },
  };
}

/**
 * `WORKFLOW_GITLAB__` for `gitlab`: in the workflow host (services/workflows), a variable with
 * this prefix is the named workflow's own (`WORKFLOW_GITLAB__NATS_USER` is its NATS_USER). Here,
 * not in the host, because npm start and the tests' RunningSystem write such variables too.
 */
export function ownVariablePrefix(workflow: string): string {
  return `WORKFLOW_${workflow.toUpperCase()}__`;
}

/** The workflow (lower case) and variable a `WORKFLOW_<NAME>__<VARIABLE>` name is for; undefined for any other name. */
export function ownVariableOf(name: string): { workflow: string; variable: string } | undefined {
  const m = /^WORKFLOW_([A-Z0-9]+)__(.*)$/.exec(name);
  return m ? { workflow: m[1]!.toLowerCase(), variable: m[2]! } : undefined;
}

/**
 * `KEY=value` lines of an env file (comments and blank lines skipped), as `npm run nats:config`
 * writes one per service. A missing file is an EnvError naming it and how to make it.
 */
export function readEnvFile(path: string): Record<string, string> {
  if (!existsSync(path)) throw new EnvError(`${path} is missing; write it with \`npm run nats:config -- --out <dir>\``);
  const vars: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^\s*([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) vars[m[1]] = m[2].trim();
  }
  return vars;
}

/** Numbers from the environment: `z.coerce` with bounds. */
export const envInt = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
export { exitWithHelpIfAsked, SERVICE_NODE_FLAGS, startOrExit, stopOnSignals } from './service-process.js';
export { HealthServer, healthEnv, notReady, READY, type Readiness, type ReadinessCheck } from './health-server.js';
export {
  counter,
  durationBuckets,
  gauge,
  histogram,
  METRIC_PREFIX,
  metricsRegistry,
  metricsText,
  readWithin,
  startProcessMetrics,
} from './metrics.js';
