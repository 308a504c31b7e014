/**
 * The Patchflow row: the services as `npm start` runs them (libs/testing's RunningSystem: each its
 * own process, the four workflows in the workflow host unless told otherwise) on a private
 * Postgres and nats-server, Jira configured too, driven over HTTP. A
 * transition is settled when the action-log shows every routed workflow's execution final with
 * its steps; the driver checks when the action-log's live-update ping says the work item settled
 * (and every 250 ms in case a ping was lost), one query over the action-log's tables.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { workflowsFor, type ActionName } from '@patchflow/contracts';
import { ensureDatabase } from '@patchflow/db';
import {
  connectTestBus,
  PrivateNatsServer,
  PrivatePostgres,
  RunningSystem,
  uniqueNamespace,
  type SystemOptions,
} from '@patchflow/testing';
import type { Bus } from '@patchflow/bus';
import type { ProcessGroup } from './proc.js';
import { natsGroup, postgresGroup, processGroup } from './servers.js';
import { postgresSettings } from './pg-statements.js';
import { SettleTracker, type Committed, type Settled } from './settle.js';
import { StandIns } from './stand-ins.js';
import type { BenchSystem } from './system.js';

const PATH: Partial<Record<ActionName, string>> = { markActive: 'mark-active', startDeployment: 'start-deployment' };

/** Final and good, with its steps stored (a skip may have none); or failed and dead-lettered. */
const SETTLED_SQL = `
  SELECT k.work_id::text AS key
    FROM unnest($1::uuid[], $2::int[]) AS k(work_id, routed)
   WHERE (SELECT count(*) FROM action_log_execution e
           WHERE e.work_id = k.work_id
             AND (e.status IN ('succeeded', 'skipped') OR (e.status = 'failed' AND e.dead_lettered))
             AND (e.status <> 'succeeded' OR EXISTS (
                   SELECT 1 FROM action_log_step s WHERE s.work_id = e.work_id AND s.workflow = e.workflow))) = k.routed`;

export class PatchflowSystem implements BenchSystem {
  private readonly routed = new Map<string, number>();
  private checkBackendPid: number | undefined;
  private seq = 0;
  private retried = 0;
  private readonly tracker: SettleTracker;

  private constructor(
    /** 'Patchflow', or the baseline checkout's row name. */
    readonly label: string,
    private readonly postgres: PrivatePostgres,
    private readonly nats: PrivateNatsServer,
    private readonly bus: Bus,
    private readonly system: RunningSystem,
    private readonly standIns: StandIns,
    private readonly actionLog: pg.Client,
  ) {
    this.tracker = new SettleTracker(
      async (keys) => {
        const r = await this.actionLog.query<{ key: string }>(SETTLED_SQL, [keys, keys.map((k) => this.routed.get(k) ?? 4)]);
        return r.rows.map((row) => row.key);
      },
      { intervalMs: 250, minGapMs: 2 },
    );
    // The action-log pings after every committed projection change, saying whether the work item
    // is settled by its own account: that ping (about one per transition) triggers the check, which
    // decides by the definition above; a lost ping is caught by the 250 ms interval.
    bus.listen(bus.topology.allActionLogUpdates, (value) => {
      const v = value as { settled?: boolean; workId?: string };
      if (v.settled === true && v.workId) this.tracker.poke(v.workId);
    });
  }

  /**
   * `run`: how the service processes run (from dist/, with profiling flags, from another checkout:
   * `root`). `label`: the row's name.
   */
  static async start(run: SystemOptions['run'] = {}, label = 'Patchflow', workflowHost = true): Promise<PatchflowSystem> {
    const [postgres, nats, standIns] = await Promise.all([
      PrivatePostgres.create(postgresSettings),
      PrivateNatsServer.start(),
      StandIns.start(),
    ]);
    const namespace = uniqueNamespace('benche2e');
    const bus = await connectTestBus(namespace, nats.url, 'bench-e2e');
    const databases = {
      patchStatus: postgres.url('pf_patch_status'),
      actionLog: postgres.url('pf_action_log'),
      workflows: postgres.url('pf_workflows'),
    };
    for (const url of Object.values(databases)) await ensureDatabase(url);
    const system = await RunningSystem.start({
      natsUrl: nats.url,
      namespace,
      databases,
      // RunningSystem leaves Jira unconfigured (skipped); here it answers like the others.
      envOf: (service) => (service === 'workflow-jira' ? standIns.jira.env : {}),
      run,
      workflowHost,
    });
    const actionLog = new pg.Client({ connectionString: databases.actionLog });
    await actionLog.connect();
    const sys = new PatchflowSystem(label, postgres, nats, bus, system, standIns, actionLog);
    sys.checkBackendPid = (await actionLog.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    return sys;
  }

  postgresServer(): PrivatePostgres {
    return this.postgres;
  }

  processes(): ProcessGroup[] {
    return [
      ...Object.entries(this.system.processes).map(([name, p]) => processGroup(name, () => p.pid)),
      natsGroup(this.nats),
      postgresGroup(this.postgres, () => (this.checkBackendPid ? [this.checkBackendPid] : [])),
      processGroup('load driver + HTTP stand-ins', () => process.pid),
      {
        ...processGroup("driver's settle checks (its postgres backend; not in the total)", () => this.checkBackendPid, 'server'),
        harness: true,
      },
    ];
  }

  async prepare(n: number): Promise<string[]> {
    const ids: string[] = [];
    let made = 0;
    // 32 callers, each waiting for its markActive to settle: a warm-up that never piles up more
    // work than the system drains (an overloaded machine would time requests out).
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (made < n) {
          made++;
          const created = await this.http('POST', '/api/patches', {
            name: `2026.${++this.seq}.1`,
            product: 'bench',
            jiraKey: this.standIns.newIssue(),
          });
          const id = created.patch.id as string;
          ids.push(id);
          await this.settled(await this.transition(id, 'markActive'));
        }
      }),
    );
    this.standIns.forgetCalls();
    return ids;
  }

  startDeployment(patchId: string): Promise<Committed> {
    return this.transition(patchId, 'startDeployment');
  }

  settled(c: Committed): Promise<Settled> {
    return this.tracker.track(c);
  }

  async pickups(keys: Committed[]): Promise<number[]> {
    const r = await this.actionLog.query<{ key: string; started: number }>(
      `SELECT work_id::text AS key, (extract(epoch FROM min(started_at)) * 1000)::float8 AS started
         FROM action_log_execution WHERE work_id = ANY($1::uuid[]) GROUP BY work_id`,
      [keys.map((k) => k.key)],
    );
    const started = new Map(r.rows.map((row) => [row.key, row.started]));
    return keys.map((k) => (started.get(k.key) ?? NaN) - k.committedAt);
  }

  async executionTimes(keys: Committed[]): Promise<Map<string, number[]>> {
    const r = await this.actionLog.query<{ workflow: string; ms: number }>(
      `SELECT workflow, (extract(epoch FROM finished_at - started_at) * 1000)::float8 AS ms
         FROM action_log_execution WHERE work_id = ANY($1::uuid[]) AND finished_at IS NOT NULL AND started_at IS NOT NULL`,
      [keys.map((k) => k.key)],
    );
    const times = new Map<string, number[]>();
    for (const row of r.rows) times.set(row.workflow, [...(times.get(row.workflow) ?? []), row.ms]);
    return times;
  }

  async stop(): Promise<void> {
    await this.tracker.stop();
    await this.actionLog.end().catch(() => undefined);
    await this.system.stop();
    await this.bus.close().catch(() => undefined);
    await this.nats.dispose();
    await this.postgres.destroy();
    await this.standIns.close();
  }

  private async transition(patchId: string, action: ActionName): Promise<Committed> {
    const body = await this.http('POST', `/api/patches/${patchId}/${PATH[action]!}`, undefined, `${patchId}:${action}`);
    const workId = body.transition.workId as string;
    this.routed.set(workId, workflowsFor(action).length);
    return { key: workId, committedAt: Date.parse(body.transition.createdAt as string) };
  }

  /**
   * One request, sent again with the same Idempotency-Key when the system answers 503/504 or the
   * connection fails (an overloaded machine), as a careful client does: a repeat writes nothing
   * and returns the first result (the transition's own createdAt).
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the reply body, read by field
  private async http(method: string, path: string, body?: unknown, key: string = randomUUID()): Promise<any> {
    for (let attempt = 1; ; attempt++) {
      const reply = await this.system
        .http(method, path, body, { 'idempotency-key': key })
        .catch((err: unknown) => ({ status: 0, body: String(err) }));
      if (reply.status === 200 || reply.status === 201) return reply.body;
      const retryable = reply.status === 0 || reply.status === 503 || reply.status === 504;
      if (!retryable || attempt >= 20)
        throw new Error(`${method} ${path}: ${reply.status} ${JSON.stringify(reply.body).slice(0, 300)}`);
      this.retried++;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  notes(): string[] {
    return this.retried
      ? [
          `${this.label}: ${this.retried} HTTP requests answered 503/504 (or failed) and were sent again with their Idempotency-Key`,
        ]
      : [];
  }
}
