import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { errors, type Subscription } from '@nats-io/transport-node';
import { InstancePing, type PingedService } from '@patchflow/contracts';
import type { Bus } from './bus.js';
import { natsHandles } from './bus.js';
import { encodeJson } from './codec.js';
import { BusPermissionError, isPermissionError } from './streams.js';

/** This process: one id however many buses it connects. */
const instanceId = randomUUID();
const startedAt = new Date(Date.now() - Math.round(process.uptime() * 1000));
/** The workspace packages are versioned together; this one's version is the release's. */
const version = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

/** What this process answers to the instance ping as `service` on the connection named `natsName`. */
export function instanceInfo(service: string, natsName: string): InstancePing {
  return {
    service,
    instanceId,
    hostname: hostname(),
    pid: process.pid,
    version,
    startedAt: startedAt.toISOString(),
    uptimeSeconds: Math.round(process.uptime()),
    natsName,
  };
}

/**
 * Answers the instance ping (`topology.instancePing`, core NATS, no queue group) as `service`:
 * every instance of every service replies once to each ping. Called by `Bus.connect` for a bus
 * that says which service it is (`BusOptions.service`, one of contracts' `pingedServices`).
 */
export function answerInstancePing(bus: Bus, service: PingedService, natsName: string): Subscription {
  const { nc } = natsHandles(bus);
  return nc.subscribe(bus.topology.instancePing, {
    callback: (err, msg) => {
      if (err || !msg.reply) return;
      msg.respond(encodeJson(instanceInfo(service, natsName)));
    },
  });
}

export interface PingResult {
  /** Every valid reply within the window, by service then instance id. */
  instances: InstancePing[];
  /** Replies that are not an `InstancePing` (someone answering junk): counted, never trusted. */
  ignored: number;
}

/**
 * Pings every instance once and gathers the replies that arrive within `waitMs` (there is no
 * "last reply": an instance count is only known after a window). A reply that is not JSON or not
 * an `InstancePing` is ignored; a repeated (service, instance id) is kept once. Nobody answering is an empty
 * list; a connection that may not ping (NATS permissions) throws `BusPermissionError`.
 */
export async function pingInstances(bus: Bus, waitMs: number): Promise<PingResult> {
  const { nc } = natsHandles(bus);
  const subject = bus.topology.instancePing;
  const byId = new Map<string, InstancePing>();
  let ignored = 0;
  try {
    const replies = await nc.requestMany(subject, new Uint8Array(), { strategy: 'timer', maxWait: waitMs });
    for await (const msg of replies) {
      let value: unknown;
      try {
        value = msg.json();
      } catch {
        ignored += 1;
        continue;
      }
      const parsed = InstancePing.safeParse(value);
      if (parsed.success) byId.set(`${parsed.data.service} ${parsed.data.instanceId}`, parsed.data);
      else ignored += 1;
    }
  } catch (err) {
    if (isPermissionError(err)) throw new BusPermissionError(`the NATS server does not let this connection ping ${subject}`);
    const cause = err instanceof Error && err.cause ? err.cause : err;
    // Nobody subscribed: no instance at all.
    if (!(err instanceof errors.NoRespondersError || cause instanceof errors.NoRespondersError)) throw err;
  }
  const instances = [...byId.values()].sort(
    (a, b) =>
      a.service.localeCompare(b.service) || a.startedAt.localeCompare(b.startedAt) || a.instanceId.localeCompare(b.instanceId),
  );
  return { instances, ignored };
}
