import type { Bus } from '@patchflow/bus';
import { patchEndpoints } from '@patchflow/contracts';
import type { PatchStatusService } from './patch-status-service.js';

/** Binds the contract's request-reply endpoints to the service (validation happens in the bus). */
export function serveEndpoints(bus: Bus, service: PatchStatusService): void {
  bus.serve(patchEndpoints.create, (req) => service.create(req));
  bus.serve(patchEndpoints.get, (req) => service.get(req.id));
  bus.serve(patchEndpoints.list, (req) => service.list(req));
  bus.serve(patchEndpoints.transition, (req) => service.transition(req));
  bus.serve(patchEndpoints.history, (req) => service.history(req.patchId));
}
