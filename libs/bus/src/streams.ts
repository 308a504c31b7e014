import { DiscardPolicy, RetentionPolicy, StorageType, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import { errors, nanos } from '@nats-io/transport-node';
import type { StreamKey, Topology } from '@patchflow/contracts';

/**
 * Creates each stream, or updates it to the definition in contracts when it differs. A stream
 * that already matches is only read (`STREAM.INFO`), so services whose NATS user may not
 * administer streams start fine once an operator (`npm start`, the `ops` user) created them.
 */
export async function ensureStreams(jsm: JetStreamManager, topology: Topology, keys?: StreamKey[]): Promise<void> {
  const defs = topology.streams;
  for (const key of keys ?? (Object.keys(defs) as StreamKey[])) {
    const def = defs[key];
    const config = {
      name: def.name,
      subjects: def.subjects,
      description: def.description,
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: nanos(def.maxAgeSeconds * 1000),
      duplicate_window: nanos(def.duplicateWindowSeconds * 1000),
      // Part of the definition, so a changed STREAM_REPLICAS scales an existing stream (the
      // server moves the data to the new peers; R1 → R3 needs a cluster of at least 3).
      num_replicas: def.replicas,
    };
    let replicasNow: number | undefined;
    try {
      const existing = await jsm.streams.info(def.name).catch((err: unknown) => {
        if (isPermissionError(err)) throw err;
        return undefined;
      });
      replicasNow = existing ? existing.config.num_replicas || 1 : undefined;
      if (!existing) await jsm.streams.add(config);
      else if (!matches(existing.config, config)) await jsm.streams.update(def.name, config);
    } catch (err) {
      if (isPermissionError(err)) {
        // The usual cause once streams exist: this service runs with another STREAM_REPLICAS than the operator's tooling.
        const replicas =
          replicasNow !== undefined && replicasNow !== def.replicas
            ? ` (it has ${replicasNow} replicas, STREAM_REPLICAS here says ${def.replicas}: give every service the operators' value)`
            : '';
        throw new BusPermissionError(
          `stream ${def.name} is missing or differs from contracts${replicas}, and this service's NATS user may not read, create ` +
            'or update it: create the streams with the ops credentials first (`npm start -- --nats-credentials DIR` does), ' +
            'or regenerate the server config with `npm run nats:config`',
        );
      }
      throw err;
    }
  }
}

/** Thrown when the NATS server refuses what this service's user tried (one line, at start). */
export class BusPermissionError extends Error {
  override name = 'BusPermissionError';
}

/** A permission violation, whether nats.js reports it directly or as the cause of a request error. */
export function isPermissionError(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth += 1) {
    if (e instanceof errors.PermissionViolationError) return true;
  }
  return false;
}

function matches(current: StreamConfig, wanted: Partial<StreamConfig>): boolean {
  const sameSubjects = [...(current.subjects ?? [])].sort().join(',') === [...(wanted.subjects ?? [])].sort().join(',');
  return (
    sameSubjects &&
    current.description === wanted.description &&
    current.max_age === wanted.max_age &&
    current.duplicate_window === wanted.duplicate_window &&
    current.retention === wanted.retention &&
    current.storage === wanted.storage &&
    current.discard === wanted.discard &&
    (current.num_replicas || 1) === wanted.num_replicas
  );
}
