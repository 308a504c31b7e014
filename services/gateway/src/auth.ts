import type { FastifyRequest } from 'fastify';
import { ContractError, lifecycle, type ActionName } from '@patchflow/contracts';
import type { Principal, TokenRegistry } from './tokens.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller, when the request carried a valid token (set for every request, public or not). */
    principal: Principal | null;
    /** Why there is no principal: answered as 401 unless the matched route is public. */
    authProblem: ContractError | null;
  }
  interface FastifyContextConfig {
    /** Served without a token. Everything else — every other route and every unmatched path — needs one. */
    public?: boolean;
    /** Also accept `?access_token=` on this route (event streams only). */
    queryToken?: boolean;
  }
}

/**
 * Who is calling, decided before anything else runs but not yet enforced, so the rate limit can
 * key on the token's name. Reads the route Fastify matched (after it decoded the path), never the
 * raw URL: `/%61pi/patches` is `/api/patches` to the router and must be to the auth as well.
 */
export function identify(tokens: TokenRegistry, request: FastifyRequest): void {
  try {
    request.principal = authenticate(tokens, request, request.routeOptions.config?.queryToken === true);
  } catch (err) {
    if (!(err instanceof ContractError)) throw err;
    request.authProblem = err;
  }
}

/** Deny by default: only a route marked `config: { public: true }` is answered without a valid token. */
export function requireAccess(request: FastifyRequest): void {
  if (request.routeOptions.config?.public === true) return;
  if (!request.principal) throw request.authProblem ?? new ContractError('unauthorized', 'missing bearer token');
}

/**
 * Authenticates a request by its `Authorization: Bearer` header. `allowQueryToken` also accepts
 * `?access_token=` — only for the live-update stream, because EventSource cannot send headers.
 */
export function authenticate(tokens: TokenRegistry, request: FastifyRequest, allowQueryToken = false): Principal {
  const header = request.headers.authorization;
  let token: string | undefined;
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match?.[1]) throw new ContractError('unauthorized', 'the Authorization header must be "Bearer <token>"');
    token = match[1];
  } else if (allowQueryToken) {
    const query = request.query as Record<string, unknown> | undefined;
    if (typeof query?.access_token === 'string') token = query.access_token;
  }
  if (token === undefined) throw new ContractError('unauthorized', 'missing bearer token');
  const principal = tokens.authenticate(token);
  if (!principal) throw new ContractError('unauthorized', 'unknown token');
  return principal;
}

/** Who may create patches: anyone who may take the lifecycle's first action. */
export function mayCreate(principal: Principal): boolean {
  return principal.role !== 'viewer';
}

/** The gateway's own role check (patch-status checks again): the lifecycle decides. */
export function requireActionRole(principal: Principal, action: ActionName): void {
  const def = lifecycle.action(action);
  if (def && !def.roles.includes(principal.role)) {
    throw new ContractError('forbidden', `role ${principal.role} may not ${action}`, {
      action,
      role: principal.role,
      allowedRoles: def.roles,
    });
  }
}
