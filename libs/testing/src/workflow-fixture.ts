import { test as base } from 'vitest';
import type { Bus } from '@patchflow/bus';
import { ExecutionEvent, StepEvent, type WorkflowName, type WorkItem } from '@patchflow/contracts';
import type { LogLevel } from '@patchflow/log';
import { connectTestBus, deleteNamespaceStreams, testLogLevel, uniqueNamespace } from './bus.js';
import { createTestDatabase } from './database.js';
import { testNatsUrl } from './env.js';
import { readStream } from './streams.js';

/** What one started workflow instance must offer the fixture (RunningWorkflowService does). */
export interface StoppableWorkflow {
  stop(): Promise<void>;
}

/** A reader of the workflow's execution rows (ExecutionStore does). */
export interface ExecutionReader {
  get(workId: string): Promise<{ status: string } | undefined>;
  close(): Promise<void>;
}

/** Where and against what one instance starts. */
export interface WorkflowStartContext<Remote> {
  remote: Remote;
  natsUrl: string;
  namespace: string;
  databaseUrl: string;
  logLevel: LogLevel;
}

export interface WorkflowFixtureSpec<
  Remote extends { close(): Promise<void> },
  Instance extends StoppableWorkflow,
  Store extends ExecutionReader,
  Options,
> {
  workflow: WorkflowName;
  /** Names the file's database and bus namespace. */
  label: string;
  /**
   * What the workflow talks to — a fake Slack/GitLab/Jira server, or a real peer service —
   * started once per file in the file's namespace, closed after the workflow stopped.
   */
  remote: (ctx: { namespace: string }) => Promise<Remote>;
  /** Starts one instance of the workflow in this process (its `startXWorkflow`). */
  start: (ctx: WorkflowStartContext<Remote>, options: Partial<Options>) => Promise<Instance>;
  /** Opens a reader of the workflow database (`ExecutionStore.open(url, workflow, 2)`). */
  openStore: (databaseUrl: string) => Promise<Store>;
  /** Instances started before the file's first test (default 1). */
  instances?: number;
}

export interface EventFilter {
  bus?: Bus;
  workId?: string;
}

/** The workflow under test, as a file's tests drive it. */
export interface WorkflowUnderTest<Instance, Options> {
  /** Every instance started in this file, in order (the first ones by the fixture). */
  readonly instances: readonly Instance[];
  /** Starts one more instance, in the file's namespace unless `namespace` says otherwise; stopped after the file. */
  start(options?: Partial<Options> & { namespace?: string }): Promise<Instance>;
  /** A bus in a namespace of its own (for a test's own instance); its streams go after the file. */
  isolatedBus(label: string): Promise<Bus>;
  /** Publishes a work item on its action's subject, as patch-status's outbox does (msg-id = work id unless given). */
  publish(work: WorkItem, options?: { bus?: Bus; msgId?: string }): Promise<void>;
  /** A `waitFor` check: is the work item's execution row in `status`? */
  reaches(workId: string, status: string): () => Promise<boolean>;
  /** The workflow's execution events (of one work item, if given) in the file's namespace, or `bus`'s. */
  executionEvents(filter?: EventFilter): Promise<ExecutionEvent[]>;
  /** The workflow's step events (of one work item, if given) in the file's namespace, or `bus`'s. */
  stepEvents(filter?: EventFilter): Promise<StepEvent[]>;
}

/**
 * The shared setup of a workflow's integration tests, as vitest fixtures of file scope (one of
 * each per test file, torn down after its last test in reverse): a database of its own (`db`),
 * a bus namespace and a bus in it (`namespace`, `bus`), the remote the workflow talks to
 * (`remote`), the workflow started against them (`workflow`, set up for every test) and a reader
 * of its execution rows (`store`).
 *
 * ```ts
 * const it = workflowTest({ workflow: 'slack', label: 'slack', remote: () => FakeSlack.start(),
 *   start: (ctx, o) => startSlackWorkflow({ …ctx, webhookUrl: ctx.remote.webhookUrl, …o }),
 *   openStore: (url) => ExecutionStore.open(url, 'slack', 2) });
 * it('posts', async ({ workflow, remote: slack }) => { … });
 * ```
 */
export function workflowTest<
  Remote extends { close(): Promise<void> },
  Instance extends StoppableWorkflow,
  Store extends ExecutionReader,
  Options,
>(spec: WorkflowFixtureSpec<Remote, Instance, Store, Options>) {
  return (
    base
      // eslint-disable-next-line no-empty-pattern
      .extend('db', { scope: 'file' }, async ({}, { onCleanup }) => {
        const db = await createTestDatabase(`wf_${spec.label}`);
        onCleanup(() => db.drop());
        return db;
      })
      // eslint-disable-next-line no-empty-pattern
      .extend('namespace', { scope: 'file' }, ({}) => uniqueNamespace(spec.label))
      .extend('bus', { scope: 'file' }, async ({ namespace }, { onCleanup }) => {
        const bus = await connectTestBus(namespace);
        onCleanup(async () => {
          await deleteNamespaceStreams(bus);
          await bus.drain();
        });
        return bus;
      })
      .extend('remote', { scope: 'file' }, async ({ namespace, bus: _bus }, { onCleanup }) => {
        // After the bus (so closed before its streams go): a peer service may still publish.
        const remote = await spec.remote({ namespace });
        onCleanup(() => remote.close());
        return remote;
      })
      .extend('workflow', { scope: 'file', auto: true }, async ({ db, namespace, bus, remote }, { onCleanup }) => {
        const instances: Instance[] = [];
        const isolated: Bus[] = [];
        const opened: { store?: Store } = {};
        onCleanup(async () => {
          for (const instance of [...instances].reverse()) await instance.stop();
          await opened.store?.close();
          for (const b of isolated) {
            await deleteNamespaceStreams(b);
            await b.drain();
          }
        });
        const wf: WorkflowUnderTest<Instance, Options> & { store: () => Store } = {
          instances,
          async start(options = {}) {
            const { namespace: ns = namespace, ...rest } = options;
            const ctx = { remote, natsUrl: testNatsUrl(), namespace: ns, databaseUrl: db.url, logLevel: testLogLevel };
            const instance = await spec.start(ctx, rest as Partial<Options>);
            instances.push(instance);
            return instance;
          },
          async isolatedBus(label) {
            const b = await connectTestBus(uniqueNamespace(label));
            isolated.push(b);
            return b;
          },
          async publish(work, { bus: b = bus, msgId = work.workId } = {}) {
            await b.publish(b.topology.work(work.transition.action), work, { msgId });
          },
          reaches: (workId, status) => async () => (await wf.store().get(workId))?.status === status,
          executionEvents: async ({ bus: b = bus, workId } = {}) =>
            (await readStream(b, 'workflowEvents', b.topology.execution(spec.workflow)))
              .map((m) => ExecutionEvent.parse(m.value))
              .filter((e) => workId === undefined || e.workId === workId),
          stepEvents: async ({ bus: b = bus, workId } = {}) =>
            (await readStream(b, 'workflowEvents', b.topology.step(spec.workflow)))
              .map((m) => StepEvent.parse(m.value))
              .filter((e) => workId === undefined || e.workId === workId),
          store: () => opened.store!,
        };
        for (let i = 0; i < (spec.instances ?? 1); i++) await wf.start();
        // Opened after the first start, which migrated the workflow database.
        opened.store = await spec.openStore(db.url);
        return wf;
      })
      .extend('store', { scope: 'file' }, ({ workflow }) => workflow.store())
  );
}
