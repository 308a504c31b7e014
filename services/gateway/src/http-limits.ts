import type { FastifyServerOptions } from 'fastify';

/**
 * What one client may hold of the gateway: how long a request may take to arrive, how often a
 * token may call, how many live streams it may keep open. Each is an environment variable
 * (src/env.ts); tests pass small values.
 */
export interface HttpLimits {
  /** Headers and body must be received within this, or 408 and the connection is closed. */
  requestTimeoutMs: number;
  /** The headers must be received within this (≤ requestTimeoutMs). */
  headersTimeoutMs: number;
  /** A socket with no traffic in either direction for this long is closed. */
  idleTimeoutMs: number;
  /** An idle keep-alive connection waits this long for its next request. */
  keepAliveTimeoutMs: number;
  /** Requests per key (token name, or client IP without a valid token) per window; 0 = no limit. */
  rateLimitMax: number;
  rateLimitWindowMs: number;
  /** Live-update streams one token may hold open at once (429 beyond). */
  liveStreamsPerToken: number;
  /** Live-update streams this gateway holds open in all (503 beyond). */
  liveStreamsTotal: number;
}

export const defaultHttpLimits: HttpLimits = {
  // 256 KB (the body limit) in 20 s is ~13 KB/s: slower than any real client, faster than an attack pays for.
  requestTimeoutMs: 20_000,
  headersTimeoutMs: 10_000,
  idleTimeoutMs: 60_000,
  keepAliveTimeoutMs: 5_000,
  // The UI makes a handful of calls per page and one per live update: 600 a minute is far above a person.
  rateLimitMax: 600,
  rateLimitWindowMs: 60_000,
  liveStreamsPerToken: 20,
  liveStreamsTotal: 1_000,
};

/** Validates limits passed in code (the environment is checked by its schema). */
export function checkHttpLimits(limits: HttpLimits): HttpLimits {
  if (limits.headersTimeoutMs > limits.requestTimeoutMs) {
    throw new Error(
      `headersTimeoutMs (${limits.headersTimeoutMs}) must not exceed requestTimeoutMs (${limits.requestTimeoutMs})`,
    );
  }
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isInteger(value) || value < 0)
      throw new Error(`HTTP limit ${name} must be a whole number ≥ 0, got ${String(value)}`);
  }
  return limits;
}

/**
 * The Node/Fastify server settings for these limits. Node checks incomplete requests only every
 * `connectionsCheckingInterval` (30 s by default), so a short timeout would fire up to 30 s late:
 * check four times per timeout, at most once a second.
 */
export function serverTimeouts(limits: HttpLimits): Pick<
  FastifyServerOptions,
  'requestTimeout' | 'connectionTimeout' | 'keepAliveTimeout'
> & {
  http: { requestTimeout: number; headersTimeout: number; connectionsCheckingInterval: number };
} {
  const shortest = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs);
  return {
    requestTimeout: limits.requestTimeoutMs,
    connectionTimeout: limits.idleTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    http: {
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout: limits.headersTimeoutMs,
      connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(shortest / 4))),
    },
  };
}

/** Event streams must show traffic well within the idle timeout, or the socket would be closed. */
export function heartbeatMsFor(limits: HttpLimits): number {
  return Math.min(15_000, Math.floor(limits.idleTimeoutMs / 3));
}
