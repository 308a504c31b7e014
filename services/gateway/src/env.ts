import { z } from 'zod';
import { commonEnv, envInt } from '@patchflow/config';
import { parseTokens, TokenRegistry } from './tokens.js';

export const gatewayEnv = z.object({
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
  NATS_URL: commonEnv.NATS_URL,
  BUS_NAMESPACE: commonEnv.BUS_NAMESPACE,
  LOG_LEVEL: commonEnv.LOG_LEVEL,
});
export type GatewayEnv = z.infer<typeof gatewayEnv>;
