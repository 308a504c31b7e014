import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { z } from 'zod';
import { EnvError, parseEnv } from './index.js';
import { metricsText, startProcessMetrics } from './metrics.js';

/**
 * How a supervisor (npm start, compose, Kubernetes) sees one service process: an HTTP port of its
 * own, apart from any API, answering
 *
 * - `GET /healthz`: 200 while the process runs (liveness: restart it when this stops answering);
 * - `GET /readyz`: 200 `{ status: 'ready' }` only when the service can do its job, otherwise 503
 *   `{ status: 'not ready', reason }` — while it starts (migrating, connecting), when a dependency
 *   it needs is gone, and once it is stopping;
 * - `GET /metrics`: the process's Prometheus metrics as text (metrics.ts), whatever its readiness.
 *
 * Plain node:http: three routes need no framework, and the probe must answer even when the
 * service's own HTTP stack (the gateway's) is busy or broken.
 */

/** The variables of the health port, read by every service. */
export const healthEnv = {
  /** Port of /healthz, /readyz and /metrics; 0 or unset: no health server (tests, one-off runs). npm start sets 9101… */
  HEALTH_PORT: z.coerce.number().int().min(0).max(65_535).default(0),
  /** Interface of the health port; `0.0.0.0` in a container so the orchestrator can reach it. */
  HEALTH_HOST: z.string().min(1).default('127.0.0.1'),
  /**
   * Set by npm start to its own pid: the service stops itself (as on SIGTERM) when that process
   * is gone, so killing the runner, even with SIGKILL, leaves no orphan.
   */
  SUPERVISOR_PID: z.coerce.number().int().min(1).optional(),
};

export type Readiness = { ready: true } | { ready: false; reason: string };
export type ReadinessCheck = () => Readiness | Promise<Readiness>;

export const READY: Readiness = { ready: true };
export const notReady = (reason: string): Readiness => ({ ready: false, reason });

/** A readiness check must answer within this, or the service counts as not ready. */
const CHECK_TIMEOUT_MS = 2000;
/** Probes arriving within this share one check: a burst of polls costs one round of checks. */
const CHECK_REUSE_MS = 250;

export class HealthServer {
  private check: ReadinessCheck = () => notReady('starting');
  private lastCheck: { at: number; result: Promise<Readiness> } | undefined;
  private closing = false;

  private constructor(
    private readonly server: ReturnType<typeof createServer> | undefined,
    /** The port it listens on (0: no server). */
    readonly port: number,
  ) {}

  /**
   * Starts the health server from the environment (HEALTH_PORT, HEALTH_HOST); with no port it
   * only keeps the state (readiness still works in-process). A port in use is an EnvError naming
   * it, so `startOrExit` prints one line. `service` names the process in its metrics (the
   * `service` label) and starts the process metrics.
   */
  static async start(env: NodeJS.ProcessEnv = process.env, service?: string): Promise<HealthServer> {
    const { HEALTH_PORT, HEALTH_HOST, SUPERVISOR_PID } = parseEnv(z.object(healthEnv), env);
    if (service !== undefined) startProcessMetrics(service);
    if (SUPERVISOR_PID !== undefined) stopWhenGone(SUPERVISOR_PID);
    if (HEALTH_PORT === 0) return new HealthServer(undefined, 0);
    const server = createServer();
    const health = new HealthServer(server, HEALTH_PORT);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void health.answer(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          err.code === 'EADDRINUSE'
            ? new EnvError(`HEALTH_PORT ${HEALTH_PORT} is in use on ${HEALTH_HOST}; stop what uses it or set another HEALTH_PORT`)
            : new EnvError(`cannot listen on HEALTH_HOST ${HEALTH_HOST} port ${HEALTH_PORT} (${err.code ?? err.message})`),
        ),
      );
      server.listen(HEALTH_PORT, HEALTH_HOST, () => resolve());
    });
    // Probes are short; never let one keep the process from exiting.
    server.unref();
    return health;
  }

  /** From now on /readyz answers `check` (until `stopping`). */
  readyWhen(check: ReadinessCheck): void {
    this.check = check;
    this.lastCheck = undefined;
  }

  /**
   * Ready when every condition holds; the reason names the first that does not. The keys are
   * the reasons, e.g. `{ 'NATS is not reachable': () => bus.isConnected }`.
   */
  readyWhenAll(conditions: Record<string, () => boolean | Promise<boolean>>): void {
    this.readyWhen(async () => {
      for (const [reason, holds] of Object.entries(conditions)) {
        if (!(await holds())) return notReady(reason);
      }
      return READY;
    });
  }

  /** The readiness now (what /readyz answers). */
  async readiness(): Promise<Readiness> {
    if (this.closing) return notReady('stopping');
    const now = Date.now();
    if (!this.lastCheck || now - this.lastCheck.at > CHECK_REUSE_MS) {
      this.lastCheck = { at: now, result: runCheck(this.check) };
    }
    return this.lastCheck.result;
  }

  /**
   * Wraps the service's stop: readiness says "stopping" at once (load balancers take it out),
   * liveness keeps answering while it stops, then the port closes.
   */
  async whileStopping(stop: () => Promise<void>): Promise<void> {
    this.closing = true;
    try {
      await stop();
    } finally {
      await this.close();
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    const server = this.server;
    if (!server?.listening) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const send = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : JSON.stringify(body));
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, { error: 'use GET' });
    if (path === '/healthz') return send(200, { status: 'ok' });
    if (path === '/metrics') return this.sendMetrics(req, res);
    if (path !== '/readyz') return send(404, { error: 'GET /healthz, /readyz or /metrics' });
    const r = await this.readiness();
    return r.ready ? send(200, { status: 'ready' }) : send(503, { status: 'not ready', reason: r.reason });
  }

  private async sendMetrics(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const { contentType, body } = await metricsText();
      res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch (err) {
      // A metric whose read threw: say which, as text, rather than leave the scrape hanging.
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      res.end(`metrics could not be collected: ${err instanceof Error ? err.message : String(err)}\n`);
    }
  }
}

async function runCheck(check: ReadinessCheck): Promise<Readiness> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      Promise.resolve().then(check),
      new Promise<Readiness>((resolve) => {
        timer = setTimeout(() => resolve(notReady(`readiness check took over ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
      }),
    ]);
  } catch (err) {
    return notReady(err instanceof Error ? err.message : String(err));
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A process started by npm start has the runner as its parent. When the runner is gone the
 * kernel re-parents this process: stop as on SIGTERM (graceful, the service's own handler).
 */
function stopWhenGone(supervisorPid: number): void {
  const timer = setInterval(() => {
    if (process.ppid === supervisorPid) return;
    clearInterval(timer);
    process.kill(process.pid, 'SIGTERM');
  }, 500);
  timer.unref();
}
