import type { Bus } from '@patchflow/bus';
import type { StreamKey } from '@patchflow/contracts';

/** Every message of one of the namespace's streams (optionally one subject), decoded as JSON. */
export async function readStream(bus: Bus, stream: StreamKey, subject?: string): Promise<Array<{ subject: string; value: unknown }>> {
  const name = bus.topology.streams[stream].name;
  const info = await bus.jsm.streams.info(name);
  const out: Array<{ subject: string; value: unknown }> = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const m = await bus.jsm.streams.getMessage(name, { seq }).catch(() => null);
    if (!m || (subject && m.subject !== subject)) continue;
    out.push({ subject: m.subject, value: m.json() });
  }
  return out;
}
