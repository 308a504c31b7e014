import { z } from 'zod';
import { logLevels } from '@patchflow/log';

/** Variables every service reads. */
export const commonEnv = {
  /** Postgres of the service that owns tables; created at start when missing. */
  DATABASE_URL: z.url().default('postgres://root@127.0.0.1:5432/patchflow'),
  /** NATS with JetStream. */
  NATS_URL: z.string().regex(/^(nats|tls):\/\/[^\s]+$/, 'a nats:// URL').default('nats://127.0.0.1:4222'),
  LOG_LEVEL: z.enum(logLevels).default('info'),
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
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
  throw new EnvError(`invalid environment:\n${lines.join('\n')}`);
}

/** Numbers from the environment: `z.coerce` with bounds. */
export const envInt = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
export { exitWithHelpIfAsked, startOrExit, stopOnSignals } from './service-process.js';
