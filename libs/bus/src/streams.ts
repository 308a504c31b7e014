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
    };
    try {
      const existing = await jsm.streams.info(def.name).catch((err: unknown) => {
        if (err instanceof errors.PermissionViolationError) throw err;
        return undefined;
      });
      if (!existing) await jsm.streams.add(config);
      else if (!matches(existing.config, config)) await jsm.streams.update(def.name, config);
    } catch (err) {
      if (err instanceof errors.PermissionViolationError || /permission/i.test(String(err))) {
        throw new Error(
          `stream ${def.name} is missing or differs from contracts, and this NATS user may not create or update it: ` +
            'run `npm start` or the ops tools with the ops credentials first',
          { cause: err },
        );
      }
      throw err;
    }
  }
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
    current.discard === wanted.discard
  );
}
