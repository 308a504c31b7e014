import pg from 'pg';
import { pingInstances, type Bus } from '@patchflow/bus';
import { pingedServices, workflowNames, workflowOpsEndpoints, type InstancePing, type WorkflowName } from '@patchflow/contracts';
import { findingError, oneLine, usageError } from '../cli-error.js';
import type { Context } from '../context.js';
import { parseDuration } from '../duration.js';
import { age, bytes, clip } from '../table.js';

export interface StreamRow {
  stream: string;
  messages: number | null;
  bytes: number | null;
  firstSeq: number | null;
  lastSeq: number | null;
  consumers: number | null;
  error?: string;
}

export interface ConsumerRow {
  stream: string;
  durable: string;
  /** Messages of the stream this consumer has not been handed yet (how far behind it is). */
  pending: number;
  /** Handed out, not yet acknowledged (running or waiting for a redelivery). */
  ackPending: number;
  redelivered: number;
  lastActive: string | null;
}

export interface DeadLetterRow {
  workflow: WorkflowName;
  /** Open dead letters (a retry has not closed them); null when the workflow did not answer. */
  open: number | null;
  /** The list endpoint's cap was reached: there are at least this many. */
  capped: boolean;
  oldest: string | null;
  /** Round trip of the ops request: the workflow's ping. */
  replyMs: number | null;
  error?: string;
}

export interface OutboxReport {
  /** Work rows committed but not yet on the stream (the relay retries them). */
  backlog: number | null;
  oldest: { id: string; action: string; createdAt: string; publishAttempts: number; lastPublishError: string | null } | null;
  error?: string;
}

export interface ServiceRow {
  service: string;
  url: string;
  /**
   * What its health port said: `ready`, `not ready` (503, with the reason) or `down` (no answer).
   * Under npm start's scheme also `in workflows` (a workflow-* whose own port does not answer while
   * the workflow host's does: it runs there) and `not used` (the host's port silent while workflow-*
   * answer on their own: --separate-workflows); see `workflowLayout`. `countsDown` says which
   * count for --fail-on-down.
   */
  state: 'ready' | 'not ready' | 'down' | 'in workflows' | 'not used';
  reason?: string;
}

/** A row that `--fail-on-down` names: the process behind the port is missing or not ready. */
export function countsDown(row: ServiceRow): boolean {
  return row.state === 'not ready' || row.state === 'down';
}

/** Every running service process that answered the instance ping (contracts/src/instance-ping.ts). */
export interface InstancesReport {
  instances: InstancePing[];
  /** Services of which no instance answered within the window. */
  missing: string[];
  /** Replies that were not an instance ping (someone answering junk on the subject). */
  ignoredReplies: number;
  /** How long replies were gathered, ms. */
  waitedMs: number;
  /** The ping could not be sent (e.g. this NATS user may not); `missing` is then empty. */
  error?: string;
}

export interface StatusReport {
  namespace: string;
  streams: StreamRow[];
  consumers: ConsumerRow[];
  deadLetters: DeadLetterRow[];
  outbox: OutboxReport;
  instances: InstancesReport;
  services: ServiceRow[];
}

/**
 * The services `npm start` can run, in its order, which decides their health ports (base + index):
 * patch-status first, action-log, the workflows by name, the gateway, then the workflow host
 * (scripts/start.mjs; test/start-command.test.ts checks that the two orders agree). It runs either
 * the host or the four workflow-* processes (--separate-workflows), so one set of ports is closed.
 */
export const npmStartServices = [
  'patch-status',
  'action-log',
  'workflow-gitlab',
  'workflow-jira',
  'workflow-slack',
  'workflow-successor',
  'gateway',
  'workflows',
] as const;

/** The workflow host (services/workflows): the workflow-* services in one process. */
const workflowHost = 'workflows';
const hostedServices: readonly string[] = workflowNames.map((w) => `workflow-${w}`);

export interface StatusOptions {
  databaseUrl?: string;
  health?: string;
  healthBase?: string;
  failOnDlq?: boolean;
  failOnDown?: boolean;
  /** How long to gather instance ping replies (a duration, default 500ms). */
  pingWait?: string;
}

const MAX_PING_WAIT_MS = 60_000;

/** `--ping-wait`: 1 ms to 60 s. */
export function pingWaitOf(options: StatusOptions): number {
  const ms = parseDuration(options.pingWait ?? '500ms', '--ping-wait');
  if (ms < 1 || ms > MAX_PING_WAIT_MS) throw usageError(`--ping-wait: "${options.pingWait}" must be from 1ms to 60s`);
  return ms;
}

/** `--health name=host:port,…`, else the npm start scheme from `--health-base` (default 9101); `none`: skip. */
export function healthTargets(options: StatusOptions, env: NodeJS.ProcessEnv): { service: string; url: string }[] {
  if (options.health === 'none') return [];
  if (options.health) {
    return options.health.split(',').map((entry) => {
      const m = /^([a-z0-9-]+)=(?:([^:=]+):)?(\d{1,5})$/i.exec(entry.trim());
      if (!m || Number(m[3]) > 65_535) throw usageError(`--health: "${entry}" is not name=port or name=host:port`);
      return { service: m[1]!, url: `http://${m[2] ?? '127.0.0.1'}:${m[3]}` };
    });
  }
  const baseText = options.healthBase ?? env.HEALTH_PORT_BASE ?? '9101';
  const base = Number(baseText);
  if (!/^\d+$/.test(baseText) || base < 1 || base + npmStartServices.length - 1 > 65_535) {
    throw usageError(`--health-base: "${baseText}" is not a port number`);
  }
  return npmStartServices.map((service, i) => ({ service, url: `http://127.0.0.1:${base + i}` }));
}

/**
 * npm start runs the workflows in one of two layouts and leaves the other's ports closed, which is
 * no outage; the layout is told by which ports answer. A workflow-* whose own port does not answer
 * runs in the workflow host when the host's port answers (`in workflows`; a host that is not ready
 * is down on its own row); the host's silent port is `not used` when any workflow-* answers on its
 * own. With neither answering, both stay `down`. Whether the host runs every workflow (WORKFLOWS
 * may name fewer) its port does not say; one it does not run is still missing from the instance
 * ping and the dead letters, which count as down on their own.
 */
export function workflowLayout(rows: ServiceRow[]): ServiceRow[] {
  const host = rows.find((r) => r.service === workflowHost);
  if (!host) return rows;
  const answers = (r: ServiceRow) => r.state !== 'down';
  const hosted = (r: ServiceRow) => hostedServices.includes(r.service);
  const separate = rows.filter((r) => hosted(r) && answers(r));
  return rows.map((r): ServiceRow => {
    if (answers(r)) return r;
    if (hosted(r) && answers(host)) {
      return { ...r, state: 'in workflows', reason: `no answer on its own port; it runs in the workflow host (${host.url})` };
    }
    if (hosted(r)) return { ...r, reason: `no answer on its health port, nor on the workflow host's (${host.url})` };
    if (r === host && separate.length > 0) {
      return {
        ...r,
        state: 'not used',
        reason: `the workflows run as their own processes (${separate.map((s) => s.service).join(', ')})`,
      };
    }
    return r;
  });
}

async function streamsAndConsumers(bus: Bus): Promise<{ streams: StreamRow[]; consumers: ConsumerRow[] }> {
  const streams: StreamRow[] = [];
  const consumers: ConsumerRow[] = [];
  for (const def of Object.values(bus.topology.streams)) {
    try {
      const s = await bus.admin.streamInfo(def.name);
      streams.push({
        stream: def.name,
        messages: s.messages,
        bytes: s.bytes,
        firstSeq: s.firstSeq,
        lastSeq: s.lastSeq,
        consumers: s.consumers,
      });
    } catch (err) {
      streams.push({
        stream: def.name,
        messages: null,
        bytes: null,
        firstSeq: null,
        lastSeq: null,
        consumers: null,
        error: /not found/i.test(oneLine(err)) ? 'missing' : oneLine(err),
      });
      continue;
    }
    for (const c of await bus.admin.consumers(def.name)) {
      // Durable consumers only: ordered readers (replays, rebuilds) come and go.
      if (!c.durableName) continue;
      consumers.push({
        stream: def.name,
        durable: c.durableName,
        pending: c.pending,
        ackPending: c.ackPending,
        redelivered: c.redelivered,
        lastActive: c.lastActive,
      });
    }
  }
  consumers.sort((a, b) => a.stream.localeCompare(b.stream) || a.durable.localeCompare(b.durable));
  return { streams, consumers };
}

const LIST_CAP = 500;

async function deadLetters(bus: Bus, timeoutMs: number): Promise<DeadLetterRow[]> {
  return Promise.all(
    workflowNames.map(async (workflow): Promise<DeadLetterRow> => {
      const started = Date.now();
      const reply = await bus.request(workflowOpsEndpoints(workflow).listDeadLetters, { limit: LIST_CAP }, { timeoutMs });
      const replyMs = Date.now() - started;
      if (!reply.ok) return { workflow, open: null, capped: false, oldest: null, replyMs: null, error: reply.error.message };
      const items = reply.result.items;
      return {
        workflow,
        open: items.length,
        capped: items.length >= LIST_CAP,
        oldest: items[0]?.deadLetteredAt ?? null,
        replyMs,
      };
    }),
  );
}

/** Read-only: a session that cannot write, one statement on the outbox's partial index. */
async function outbox(databaseUrl: string): Promise<OutboxReport> {
  const client = new pg.Client({
    connectionString: databaseUrl,
    connectionTimeoutMillis: 3000,
    options: '-c default_transaction_read_only=on -c statement_timeout=5000',
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const count = await client.query<{ n: string }>('SELECT count(*) AS n FROM patch_transition_work WHERE published_at IS NULL');
    const oldest = await client.query<{
      id: string;
      action: string;
      created_at: Date;
      publish_attempts: number;
      last_publish_error: string | null;
    }>(
      `SELECT id, action, created_at, publish_attempts, last_publish_error FROM patch_transition_work
        WHERE published_at IS NULL ORDER BY created_at LIMIT 1`,
    );
    const o = oldest.rows[0];
    return {
      backlog: Number(count.rows[0]?.n ?? 0),
      oldest: o
        ? {
            id: o.id,
            action: o.action,
            createdAt: o.created_at.toISOString(),
            publishAttempts: o.publish_attempts,
            lastPublishError: o.last_publish_error,
          }
        : null,
    };
  } catch (err) {
    return { backlog: null, oldest: null, error: `patch-status database: ${oneLine(err).replace(/\/\/[^@/]*@/, '//***@')}` };
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function instances(bus: Bus, waitedMs: number): Promise<InstancesReport> {
  try {
    const { instances, ignored } = await pingInstances(bus, waitedMs);
    const answered = new Set(instances.map((i) => i.service));
    return { instances, missing: pingedServices.filter((s) => !answered.has(s)), ignoredReplies: ignored, waitedMs };
  } catch (err) {
    return { instances: [], missing: [], ignoredReplies: 0, waitedMs, error: `instance ping: ${oneLine(err)}` };
  }
}

async function probe(target: { service: string; url: string }): Promise<ServiceRow> {
  try {
    const res = await fetch(`${target.url}/readyz`, { signal: AbortSignal.timeout(1500) });
    const body = (await res.json().catch(() => ({}))) as { reason?: string };
    return res.status === 200
      ? { ...target, state: 'ready' }
      : { ...target, state: 'not ready', ...(body.reason ? { reason: body.reason } : {}) };
  } catch {
    return { ...target, state: 'down', reason: 'no answer on its health port' };
  }
}

export async function collectStatus(ctx: Context, options: StatusOptions): Promise<StatusReport> {
  const targets = healthTargets(options, ctx.env);
  const pingWaitMs = pingWaitOf(options);
  const bus = await ctx.connect();
  const databaseUrl = options.databaseUrl ?? ctx.env.DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/patchflow';
  const [jet, dls, box, running, services] = await Promise.all([
    streamsAndConsumers(bus),
    deadLetters(bus, Math.min(ctx.timeoutMs, 5000)),
    outbox(databaseUrl),
    instances(bus, pingWaitMs),
    // Explicit --health targets are reported as asked; npm start's scheme probes both layouts.
    Promise.all(targets.map(probe)).then((rows) => (options.health ? rows : workflowLayout(rows))),
  ]);
  return { namespace: ctx.namespace, ...jet, deadLetters: dls, outbox: box, instances: running, services };
}

export async function statusCommand(ctx: Context, options: StatusOptions): Promise<void> {
  const report = await collectStatus(ctx, options);
  if (ctx.json) ctx.printJson(report);
  else printStatus(ctx, report);
  const open = report.deadLetters.reduce((n, d) => n + (d.open ?? 0), 0);
  if (options.failOnDlq && open > 0) throw findingError(`${open} open dead letter(s)`, 'dead_letters');
  const down = [
    ...report.services.filter(countsDown).map((s) => s.service),
    ...report.deadLetters.filter((d) => d.open === null).map((d) => `workflow-${d.workflow} (ops)`),
    ...(report.outbox.error ? ['the outbox (patch-status database)'] : []),
    ...report.instances.missing.map((s) => `${s} (no instance)`),
    ...(report.instances.error ? ['the instance ping'] : []),
  ];
  if (options.failOnDown && down.length > 0) throw findingError(`not ready: ${[...new Set(down)].join(', ')}`, 'down');
}

function printStatus(ctx: Context, r: StatusReport): void {
  ctx.say(`Streams${r.namespace ? ` (namespace ${r.namespace})` : ''}`);
  ctx.table(
    ['STREAM', 'MESSAGES', 'BYTES', 'FIRST SEQ', 'LAST SEQ', 'CONSUMERS', 'NOTE'],
    r.streams.map((s) => [
      s.stream,
      s.messages,
      s.bytes === null ? null : bytes(s.bytes),
      s.firstSeq,
      s.lastSeq,
      s.consumers,
      s.error,
    ]),
  );
  ctx.say('\nDurable consumers');
  ctx.table(
    ['STREAM', 'CONSUMER', 'PENDING', 'ACK PENDING', 'REDELIVERED', 'LAST ACTIVE'],
    r.consumers.map((c) => [
      c.stream,
      c.durable,
      c.pending,
      c.ackPending,
      c.redelivered,
      c.lastActive ? `${age(c.lastActive)} ago` : 'never',
    ]),
  );
  ctx.say('\nDead letters (open) and workflow ping');
  ctx.table(
    ['WORKFLOW', 'OPEN', 'OLDEST', 'OPS REPLY', 'NOTE'],
    r.deadLetters.map((d) => [
      d.workflow,
      d.open === null ? null : d.capped ? `≥${d.open}` : d.open,
      d.oldest ? `${age(d.oldest)} ago` : null,
      d.replyMs === null ? 'no answer' : `${d.replyMs} ms`,
      d.error ? clip(d.error, 70) : undefined,
    ]),
  );
  ctx.say('\nOutbox (patch_transition_work not yet published)');
  if (r.outbox.error) ctx.say(`  unavailable: ${r.outbox.error}`);
  else {
    const o = r.outbox.oldest;
    ctx.table(
      ['BACKLOG', 'OLDEST', 'OLDEST ID', 'ACTION', 'PUBLISH ATTEMPTS', 'LAST ERROR'],
      [
        [
          r.outbox.backlog,
          o ? `${age(o.createdAt)} ago` : null,
          o?.id,
          o?.action,
          o?.publishAttempts,
          clip(o?.lastPublishError, 50),
        ],
      ],
    );
  }
  ctx.say(`\nInstances (answering the instance ping within ${r.instances.waitedMs} ms)`);
  if (r.instances.error) ctx.say(`  unavailable: ${r.instances.error}`);
  else {
    ctx.table(
      ['SERVICE', 'INSTANCE', 'HOST', 'PID', 'VERSION', 'UP', 'NATS NAME'],
      r.instances.instances.map((i) => [
        i.service,
        i.instanceId.slice(0, 8),
        i.hostname,
        i.pid,
        i.version,
        age(new Date(Date.now() - i.uptimeSeconds * 1000)),
        i.natsName,
      ]),
    );
    if (r.instances.missing.length > 0) ctx.say(`warning: no instance answering: ${r.instances.missing.join(', ')}`);
    if (r.instances.ignoredReplies > 0)
      ctx.say(`warning: ${r.instances.ignoredReplies} reply(ies) that are not an instance ping ignored`);
  }
  if (r.services.length > 0) {
    ctx.say('\nServices (health ports: one process per port; instances behind a load balancer are not counted)');
    ctx.table(
      ['SERVICE', 'HEALTH', 'STATE', 'REASON'],
      r.services.map((s) => [s.service, s.url, s.state, s.reason]),
    );
  }
}
