import type { FastifyRequest } from 'fastify';
import { ContractError, lifecycle, type ActionName } from '@patchflow/contracts';
import type { Principal, TokenRegistry } from './tokens.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
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
