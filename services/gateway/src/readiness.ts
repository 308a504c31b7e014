import { notReady, READY, type Readiness } from '@patchflow/config';
import { ContractError, patchEndpoints } from '@patchflow/contracts';
import type { ServiceClient } from './service-client.js';

/** Probes within this share one answer: a public, unauthenticated probe must not fan out to the bus. */
const REUSE_MS = 1000;

/**
 * The gateway can do its job when NATS is up and patch-status answers: every API call but the
 * lifecycle goes there. The probe is the cheapest real request, a one-patch page, so "ready"
 * means the next request will not get 503 `no service answers`. Returns the check to call per
 * probe (the health port's /readyz, and the API port's).
 */
export function gatewayReadiness(services: ServiceClient): () => Promise<Readiness> {
  let last: { at: number; result: Promise<Readiness> } | undefined;
  const probe = async (): Promise<Readiness> => {
    if (!services.isConnected) return notReady('NATS is not reachable');
    try {
      await services.call(patchEndpoints.list, { limit: 1 });
      return READY;
    } catch (err) {
      const why = err instanceof ContractError ? `${err.code}: ${err.message}` : String(err);
      return notReady(`patch-status does not answer (${why})`);
    }
  };
  return () => {
    if (!last || Date.now() - last.at > REUSE_MS) last = { at: Date.now(), result: probe() };
    return last.result;
  };
}
