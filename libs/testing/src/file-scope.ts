import { afterAll, beforeAll } from 'vitest';
import type { Bus } from '@patchflow/bus';
import { connectTestBus, deleteNamespaceStreams, uniqueNamespace } from './bus.js';
import { createTestDatabase, type TestDatabase } from './database.js';

/** A test file's own bus namespace, a bus connected in it and (if asked for) a database. */
export interface FileScope {
  readonly namespace: string;
  /** Set before the file's first test. */
  readonly bus: Bus;
  /** Set before the file's first test; throws if the file asked for no database. */
  readonly db: TestDatabase;
}

/**
 * The isolation of one test file whose tests share module-level state (a service started once,
 * helpers over its bus), as hooks — `workflowTest` offers the same as fixtures: a database of
 * its own (`database` names it) and a bus namespace, made in a `beforeAll`, removed in an
 * `afterAll` (streams deleted, bus drained, database dropped). Call it before the file's own
 * hooks: they then start after it and stop before it.
 */
export function fileScope(labels: { namespace: string; database?: string }): FileScope {
  const namespace = uniqueNamespace(labels.namespace);
  let bus: Bus | undefined;
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    if (labels.database) db = await createTestDatabase(labels.database);
    bus = await connectTestBus(namespace);
  });
  afterAll(async () => {
    if (bus) {
      await deleteNamespaceStreams(bus);
      await bus.drain();
    }
    await db?.drop();
  });
  return {
    namespace,
    get bus() {
      if (!bus) throw new Error('fileScope: the bus is connected in beforeAll, not yet');
      return bus;
    },
    get db() {
      if (!db)
        throw new Error(
          labels.database ? 'fileScope: the database is made in beforeAll, not yet' : 'fileScope: no database asked for',
        );
      return db;
    },
  };
}
