import { z } from 'zod';
import { busPrincipals } from './bus-permissions.js';
import { IsoTime } from './primitives.js';

/**
 * The services that answer the instance ping (`Topology.instancePing`): every bus principal but
 * the operators. A `Bus` connected with `service` set to one of these answers it (libs/bus/src/ping.ts).
 */
export const pingedServices = busPrincipals.filter((p): p is Exclude<(typeof busPrincipals)[number], 'ops'> => p !== 'ops');
export type PingedService = (typeof pingedServices)[number];

/**
 * One running process's answer to the instance ping. The ping is core NATS without a queue group,
 * so every instance of every service answers once: operators count instances, not ports.
 */
export const InstancePing = z.object({
  /** One of `pingedServices` (a newer service's name is still listed, not dropped). */
  service: z.string().min(1).max(100),
  /** Random per process: two replies with the same id are the same process. */
  instanceId: z.uuid(),
  hostname: z.string().min(1).max(255),
  pid: z.number().int().min(1),
  /** The release the process runs (the workspace packages' version). */
  version: z.string().min(1).max(100),
  startedAt: IsoTime,
  uptimeSeconds: z.number().min(0),
  /** The NATS connection name (what NATS monitoring shows for this client). */
  natsName: z.string().min(1).max(255),
});
export type InstancePing = z.infer<typeof InstancePing>;
