import { z } from 'zod';

/**
 * The value types every message is built from, each declared once. They refuse what Postgres
 * would refuse later (a NUL byte in text or jsonb, an integer past `integer`), so bad input is a
 * `validation_failed` at the edge instead of a 500 or a message redelivered forever.
 */

export const Uuid = z.uuid();
export const IsoTime = z.iso.datetime({ offset: true });

/** Postgres `integer` (int4) upper bound. */
export const PG_INT_MAX = 2_147_483_647;

// eslint-disable-next-line no-control-regex -- the NUL byte is exactly what this refuses
const NO_NUL = /^[^\u0000]*$/;
const NUL_MESSAGE = 'must not contain NUL bytes';

/** Text that Postgres can store: no NUL byte. Chain `.min()`/`.max()`/`.regex()` as usual. */
export function text(): z.ZodString {
  return z.string().regex(NO_NUL, NUL_MESSAGE);
}

/** An integer column: 0 … 2^31 − 1. */
export const PgInt = z.number().int().min(0).max(PG_INT_MAX);
/** A positive integer column: 1 … 2^31 − 1 (versions, attempts). */
export const PgPositiveInt = z.number().int().min(1).max(PG_INT_MAX);

function hasNul(value: unknown, depth = 0): boolean {
  if (depth > 64) return false;
  if (typeof value === 'string') return value.includes('\u0000');
  if (Array.isArray(value)) return value.some((v) => hasNul(v, depth + 1));
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).some(([k, v]) => k.includes('\u0000') || hasNul(v, depth + 1));
  }
  return false;
}

/** A free-form JSON object stored as jsonb: no NUL byte in any key or string inside it. */
export const JsonRecord = z
  .record(z.string(), z.unknown())
  .refine((v) => !hasNul(v), { message: `${NUL_MESSAGE} (in any key or string)` });

/** A W3C trace id: 32 lowercase hex digits, not all zero (the one a transition's work shares). */
export const TraceId = z.string().regex(/^(?!0{32})[0-9a-f]{32}$/, 'a W3C trace id: 32 lowercase hex digits, not all zero');
/** A W3C `traceparent` header of version 00: `00-<trace id>-<span id>-<flags>`. */
export const Traceparent = z
  .string()
  .regex(/^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/, 'a W3C traceparent: 00-<32 hex>-<16 hex>-<2 hex>');
