import type { Bus } from '@patchflow/bus';
import type { StreamKey } from '@patchflow/contracts';

export interface StoredMessage {
  seq: number;
  subject: string;
  /** The `Nats-Msg-Id` it was published with, if any. */
  msgId: string | undefined;
  value: unknown;
}

/** Every message of one of the namespace's streams (optionally one subject), decoded as JSON. */
export async function readStream(bus: Bus, stream: StreamKey, subject?: string): Promise<StoredMessage[]> {
  const name = bus.topology.streams[stream].name;
  const info = await bus.admin.streamInfo(name);
  const out: StoredMessage[] = [];
  for (let seq = info.firstSeq; seq <= info.lastSeq && info.messages > 0; seq++) {
    const m = await bus.admin.message(name, seq).catch(() => null);
    if (!m || (subject && m.subject !== subject)) continue;
    out.push({ seq, subject: m.subject, msgId: m.msgId, value: m.json() });
  }
  return out;
}
