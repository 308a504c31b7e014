import { userInfo } from 'node:os';
import { z } from 'zod';
import { Bus, BusUnreachableError } from '@patchflow/bus';
import { natsConnection, natsEnv, parseEnv } from '@patchflow/config';
import { Topology, workflowNames, type WorkflowName } from '@patchflow/contracts';
import { createLogger } from '@patchflow/log';
import { CliError, EXIT, oneLine, output, usageError } from './cli-error.js';
import { parseDuration } from './duration.js';
import { formatTable, type Cell } from './table.js';

/** Options every command takes (declared once on the program, shown in every command's --help). */
export interface GlobalOptions {
  json?: boolean;
  natsUrl?: string;
  namespace?: string;
  timeout?: string;
}

/** What a command runs with: how to print, and the bus (connected on first use). */
export class Context {
  readonly json: boolean;
  readonly timeoutMs: number;
  private bus: Bus | undefined;

  constructor(
    readonly options: GlobalOptions,
    readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this.json = Boolean(options.json);
    this.timeoutMs = options.timeout ? parseDuration(options.timeout, '--timeout') : 5000;
    const ns = this.namespace;
    try {
      new Topology(ns);
    } catch (err) {
      throw usageError(`--namespace: ${oneLine(err)}`);
    }
  }

  get namespace(): string {
    return this.options.namespace ?? this.env.BUS_NAMESPACE ?? '';
  }

  /**
   * Connects as whoever the environment says (NATS_URL, NATS_USER/NATS_PASSWORD, NATS_CREDS, TLS;
   * operators use the `ops` user: `set -a; . DIR/ops.env; set +a`). Unreachable → exit 2, one line.
   */
  async connect(): Promise<Bus> {
    if (this.bus) return this.bus;
    let nats;
    try {
      const url = this.options.natsUrl ?? this.env.NATS_URL;
      nats = natsConnection(parseEnv(z.object(natsEnv), { ...this.env, ...(url ? { NATS_URL: url } : {}) }));
    } catch (err) {
      throw usageError(oneLine(err));
    }
    try {
      this.bus = await Bus.connect({
        url: nats.url,
        auth: nats.auth,
        name: 'patchctl',
        namespace: this.namespace,
        logger: createLogger('patchctl', 'silent'),
        requestTimeoutMs: this.timeoutMs,
      });
    } catch (err) {
      if (err instanceof BusUnreachableError) throw new CliError(oneLine(err), EXIT.usage, 'unreachable');
      throw new CliError(`cannot connect to NATS: ${oneLine(err)}`, EXIT.usage, 'unreachable');
    }
    return this.bus;
  }

  async close(): Promise<void> {
    await this.bus?.close().catch(() => undefined);
  }

  /** Plain text to stdout (ignored under --json: the command prints its JSON instead). */
  say(text: string): void {
    if (!this.json) process.stdout.write(`${text}\n`);
  }

  /** A note on stderr (progress of rounds, warnings); never mixed into stdout. */
  note(text: string): void {
    if (!this.json) process.stderr.write(`${text}\n`);
  }

  table(headers: string[], rows: Cell[][]): void {
    this.say(rows.length === 0 ? `${formatTable(headers, [])}\n(none)` : formatTable(headers, rows));
  }

  printJson(value: unknown): void {
    output.jsonPrinted = true;
    process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }
}

export const isWorkflow = (w: string): w is WorkflowName => (workflowNames as readonly string[]).includes(w);

/** `--workflow` (given) or every workflow; an unknown name is a usage error (exit 2). */
export function workflowsOf(name: string | undefined): WorkflowName[] {
  if (name === undefined) return [...workflowNames];
  return [parseWorkflow(name)];
}

export function parseWorkflow(name: string): WorkflowName {
  if (!isWorkflow(name)) throw usageError(`unknown workflow "${name}" (one of ${workflowNames.join(', ')})`);
  return name;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function parseWorkId(id: string, option = '--work-id'): string {
  if (!UUID.test(id)) throw usageError(`${option}: "${id}" is not a work id (a UUID)`);
  return id.toLowerCase();
}

/**
 * Who an operator action is recorded as: `--actor`, else the NATS user patchctl connects as (the
 * `ops` user of ops.env), else the login name.
 */
export function actorOf(ctx: Context, actor: string | undefined): string {
  const name = (actor ?? ctx.env.NATS_USER ?? safeLogin()).trim();
  if (!name) throw usageError('--actor: must not be empty');
  if (name.length > 100) throw usageError('--actor: at most 100 characters');
  return name;
}

function safeLogin(): string {
  try {
    return userInfo().username;
  } catch {
    return 'patchctl';
  }
}

/** `--reason`: required text of at most 1000 characters, recorded in the history. */
export function parseReason(reason: string | undefined, what: string): string {
  const text = reason?.trim();
  if (!text) throw usageError(`${what} needs --reason <text> (it is recorded in the history)`);
  if (text.length > 1000) throw usageError('--reason: at most 1000 characters');
  return text;
}
