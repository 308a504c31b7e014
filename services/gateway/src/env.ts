import { z } from 'zod';
import { commonEnv, natsEnv, envInt, tracingEnv } from '@patchflow/config';
import { defaultHttpLimits, type HttpLimits } from './http-limits.js';
import { parseTokens, TokenRegistry } from './tokens.js';

export const gatewayEnv = z
  .object({
    /** The HTTP port of the API and the UI. */
    GATEWAY_PORT: envInt(0, 65_535).default(8080),
    /** Interface to listen on; `0.0.0.0` in a container. */
    GATEWAY_HOST: z.string().min(1).default('127.0.0.1'),
    /**
     * Who may call: comma-separated `name:role:token` (roles viewer, operator, admin). Required:
     * the API has no anonymous access. The name is recorded as the actor of a transition.
     */
    GATEWAY_TOKENS: z.string({ error: 'required: comma-separated name:role:token entries' }).transform((value, ctx) => {
      const { tokens, problems } = parseTokens(value);
      for (const message of problems) ctx.addIssue({ code: 'custom', message });
      return new TokenRegistry(tokens);
    }),
    /** How long a NATS request to a service may take before the client gets 504. */
    GATEWAY_REQUEST_TIMEOUT_MS: envInt(100, 120_000).default(5000),
    /**
     * The whole HTTP request (headers and body) must arrive within this, or the connection gets 408
     * and is closed: a client trickling a body byte by byte cannot hold a socket. Event streams are
     * unaffected (their request is complete once the headers are in).
     */
    GATEWAY_HTTP_REQUEST_TIMEOUT_MS: envInt(500, 300_000).default(defaultHttpLimits.requestTimeoutMs),
    /** The request headers must arrive within this (at most the request timeout). */
    GATEWAY_HTTP_HEADERS_TIMEOUT_MS: envInt(500, 300_000).default(defaultHttpLimits.headersTimeoutMs),
    /** A connection with no traffic either way for this long is closed (event streams send a heartbeat well within it). */
    GATEWAY_HTTP_IDLE_TIMEOUT_MS: envInt(3_000, 3_600_000).default(defaultHttpLimits.idleTimeoutMs),
    /** An idle keep-alive connection between two requests is closed after this. */
    GATEWAY_HTTP_KEEP_ALIVE_TIMEOUT_MS: envInt(1_000, 600_000).default(defaultHttpLimits.keepAliveTimeoutMs),
    /** Requests per token (per client IP without a valid token) per window; `0` turns the limit off. Probes are never limited. */
    GATEWAY_RATE_LIMIT_MAX: envInt(0, 1_000_000).default(defaultHttpLimits.rateLimitMax),
    /** The rate limit window. */
    GATEWAY_RATE_LIMIT_WINDOW_MS: envInt(1_000, 3_600_000).default(defaultHttpLimits.rateLimitWindowMs),
    /** Open live-update streams one token may hold at once (→ 429 beyond). */
    GATEWAY_SSE_MAX_PER_TOKEN: envInt(1, 10_000).default(defaultHttpLimits.liveStreamsPerToken),
    /** Open live-update streams on this gateway in all (→ 503 beyond). */
    GATEWAY_SSE_MAX_TOTAL: envInt(1, 1_000_000).default(defaultHttpLimits.liveStreamsTotal),
    ...natsEnv,
    BUS_NAMESPACE: commonEnv.BUS_NAMESPACE,
    LOG_LEVEL: commonEnv.LOG_LEVEL,
    ...tracingEnv,
  })
  .superRefine((env, ctx) => {
    if (env.GATEWAY_HTTP_HEADERS_TIMEOUT_MS > env.GATEWAY_HTTP_REQUEST_TIMEOUT_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['GATEWAY_HTTP_HEADERS_TIMEOUT_MS'],
        message: 'must not exceed GATEWAY_HTTP_REQUEST_TIMEOUT_MS',
      });
    }
  });

/** The HTTP limits as `startGateway` takes them. */
export function httpLimitsOf(env: GatewayEnv): HttpLimits {
  return {
    requestTimeoutMs: env.GATEWAY_HTTP_REQUEST_TIMEOUT_MS,
    headersTimeoutMs: env.GATEWAY_HTTP_HEADERS_TIMEOUT_MS,
    idleTimeoutMs: env.GATEWAY_HTTP_IDLE_TIMEOUT_MS,
    keepAliveTimeoutMs: env.GATEWAY_HTTP_KEEP_ALIVE_TIMEOUT_MS,
    rateLimitMax: env.GATEWAY_RATE_LIMIT_MAX,
    rateLimitWindowMs: env.GATEWAY_RATE_LIMIT_WINDOW_MS,
    liveStreamsPerToken: env.GATEWAY_SSE_MAX_PER_TOKEN,
    liveStreamsTotal: env.GATEWAY_SSE_MAX_TOTAL,
  };
}
export type GatewayEnv = z.infer<typeof gatewayEnv>;
