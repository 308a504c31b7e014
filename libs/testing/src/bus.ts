import { Bus } from '@patchflow/bus';
import { createLogger, type LogLevel } from '@patchflow/log';
import { testNatsUrl, uniqueSuffix } from './env.js';

/** A bus namespace of its own, so a test file's streams and subjects overlap nobody's. */
export function uniqueNamespace(label = 't'): string {
  return `${label.replace(/[^a-z0-9]/g, '').slice(0, 8) || 't'}_${uniqueSuffix()}`.slice(0, 32);
}

export const testLogLevel = (process.env.TEST_LOG_LEVEL ?? 'silent') as LogLevel;

/** Connects a bus in `namespace`, creating its streams. */
export async function connectTestBus(namespace: string, url = testNatsUrl(), name = 'test'): Promise<Bus> {
  const bus = await Bus.connect({ url, name, namespace, logger: createLogger(name, testLogLevel) });
  await bus.ensureStreams();
  return bus;
}

/** Deletes every stream of the bus's namespace (leaves shared servers clean). */
export async function deleteNamespaceStreams(bus: Bus): Promise<void> {
  for (const def of Object.values(bus.topology.streams)) {
    await bus.admin.deleteStream(def.name).catch(() => undefined);
  }
}
