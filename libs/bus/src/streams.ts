import { DiscardPolicy, RetentionPolicy, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import type { StreamKey, Topology } from '@patchflow/contracts';

/** Creates each stream, or updates it to the definition in contracts when it already exists. */
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
    const existing = await jsm.streams.info(def.name).catch(() => undefined);
    if (existing) await jsm.streams.update(def.name, config);
    else await jsm.streams.add(config);
  }
}
