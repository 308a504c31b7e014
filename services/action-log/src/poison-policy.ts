import { ContractError } from '@patchflow/contracts';
import { isDatabaseUnavailable } from '@patchflow/db';
import type { ParkReason } from './entities/index.js';

/** How long a message that fails to apply is retried before it is parked. Validated once. */
export interface PoisonPolicy {
  /** Deliveries of one message (the first included) before it is parked as `exhausted`. */
  maxDeliveries: number;
  /** Delay before the 2nd delivery after a failure; doubles per delivery. */
  retryBaseMs: number;
  /** Cap of that delay. */
  retryMaxMs: number;
}

export const defaultPoisonPolicy: PoisonPolicy = { maxDeliveries: 10, retryBaseMs: 1000, retryMaxMs: 30_000 };

/** Checks a policy as a whole (a cap below the base is a configuration mistake, not a choice). */
export function poisonPolicy(p: PoisonPolicy): PoisonPolicy {
  if (!Number.isInteger(p.maxDeliveries) || p.maxDeliveries < 1) throw new Error('maxDeliveries must be an integer ≥ 1');
  if (p.retryBaseMs < 0 || p.retryMaxMs < p.retryBaseMs) {
    throw new Error(`the retry cap (${p.retryMaxMs} ms) must be at least the base delay (${p.retryBaseMs} ms)`);
  }
  return p;
}

/** What to do with a message whose application failed. */
export type FailureDecision =
  { kind: 'park'; reason: ParkReason; error: string } | { kind: 'retry'; delayMs: number; error: string };

/**
 * Decides after delivery `delivery` (1-based) failed with `error`. A contract violation or a
 * data/integrity error from Postgres (SQLSTATE class 22 or 23: the same statement fails the same
 * way every time) is parked at once; anything else — a deadlock, a bug that may be fixed by a
 * deploy — is retried with exponential backoff and parked after `maxDeliveries`. Postgres being
 * unreachable is retried for as long as it lasts.
 */
export function decideFailure(policy: PoisonPolicy, error: unknown, delivery: number): FailureDecision {
  const described = describeError(error);
  if (error instanceof ContractError) return { kind: 'park', reason: 'invalid', error: described };
  const state = sqlState(error);
  if (state && /^2[23]/.test(state)) return { kind: 'park', reason: 'rejected', error: described };
  // An outage is not the message's fault: it never counts towards parking (and parking would
  // fail anyway). Right after Postgres is back, the first attempt may still hit a dead connection.
  if (delivery >= policy.maxDeliveries && !isDatabaseUnavailable(error)) {
    return { kind: 'park', reason: 'exhausted', error: described };
  }
  return { kind: 'retry', delayMs: retryDelayMs(policy, delivery), error: described };
}

// Shared with every service that must ride out a Postgres outage (one definition, in @patchflow/db).
export { isDatabaseUnavailable };

/** Exponential from the base, capped, ±20 % jitter so instances that failed together spread out. */
export function retryDelayMs(policy: PoisonPolicy, delivery: number): number {
  const capped = Math.min(policy.retryBaseMs * 2 ** Math.max(0, delivery - 1), policy.retryMaxMs);
  return Math.round(capped * (0.8 + Math.random() * 0.4));
}

/** The SQLSTATE of a Postgres error (MikroORM copies the driver's `code` onto its exception). */
export function sqlState(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !code.startsWith('E')) return code;
  }
  return undefined;
}

const MAX_ERROR_LENGTH = 1000;

/**
 * One line for operators, safe to store: MikroORM prefixes the driver's message with the whole
 * SQL statement (payload values inlined), so only the server's own message is kept, behind its
 * SQLSTATE. NUL bytes (a field name in a contract error may carry one) are replaced, since
 * Postgres text refuses them and the park itself must not fail on the message it parks.
 */
export function describeError(error: unknown): string {
  let text: string;
  if (error instanceof ContractError) {
    text = error.message; // names each field and its problem, never the value
  } else if (error instanceof Error) {
    const state = sqlState(error);
    const serverMessage = error.message.split(' - ').at(-1) ?? error.message;
    text = state ? `SQLSTATE ${state}: ${serverMessage}` : `${error.name}: ${error.message}`;
  } else {
    text = String(error);
  }
  const clean = text
    // eslint-disable-next-line no-control-regex -- NUL is exactly what Postgres text refuses
    .replace(/\u0000/g, '\\u0000')
    .replace(/\s+/g, ' ')
    .trim();
  return clean.length > MAX_ERROR_LENGTH ? `${clean.slice(0, MAX_ERROR_LENGTH - 1)}…` : clean;
}

/** A short label for the log line (no payload content): the contract code, SQLSTATE, system code or error name. */
export function errorLabel(error: unknown): string {
  if (error instanceof ContractError) return error.code;
  const code = error instanceof Error ? (error as { code?: unknown }).code : undefined;
  return sqlState(error) ?? (typeof code === 'string' ? code : undefined) ?? (error instanceof Error ? error.name : typeof error);
}
