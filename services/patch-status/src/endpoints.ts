import type { Bus } from '@patchflow/bus';
import { ContractError, patchEndpoints } from '@patchflow/contracts';
import { isDatabaseUnavailable } from '@patchflow/db';
import type { PatchStatusService } from './patch-status-service.js';

/** Binds the contract's request-reply endpoints to the service (validation happens in the bus). */
export function serveEndpoints(bus: Bus, service: PatchStatusService): void {
  const guard = <T>(subject: string, handle: () => Promise<T>) => unlessDatabaseGone(bus, subject, handle);
  bus.serve(patchEndpoints.create, (req) => guard('create', () => service.create(req)));
  bus.serve(patchEndpoints.get, (req) => guard('get', () => service.get(req.id)));
  bus.serve(patchEndpoints.list, (req) => guard('list', () => service.list(req)));
  bus.serve(patchEndpoints.transition, (req) => guard('transition', () => service.transition(req)));
  bus.serve(patchEndpoints.history, (req) => guard('history', () => service.history(req)));
}

/**
 * Postgres restarting, failing over or dropping connections is `unavailable` to the caller (HTTP
 * 503: retry later), not `internal`. A transition may have committed just before its connection
 * was lost: retried with the same idempotency key, it is answered with the committed one.
 */
async function unlessDatabaseGone<T>(bus: Bus, operation: string, handle: () => Promise<T>): Promise<T> {
  try {
    return await handle();
  } catch (err) {
    if (err instanceof ContractError || !isDatabaseUnavailable(err)) throw err;
    bus.logger.warn({ operation, err: (err as Error).message }, 'Postgres unavailable; answered unavailable');
    throw new ContractError('unavailable', 'the patch database is unavailable; retry shortly', undefined, { cause: err });
  }
}
