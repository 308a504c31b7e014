import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A fault served instead of the real answer to the next request. */
export type Fault =
  /** An error status; 429 and 503 usually carry `retryAfterSeconds`. */
  | { status: number; body?: unknown; retryAfterSeconds?: number }
  /** Never answer: the client times out (the socket closes when the server closes). */
  | { hang: true }
  /** Answer normally, but only after `delayMs`. */
  | { delayMs: number };

export interface RecordedCall {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: string;
  /** The status answered (0 while hanging or when the client went away first). */
  status: number;
  at: Date;
}

export interface FakeResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/**
 * A real node:http server on a free port that third-party fakes build on: records every call,
 * serves queued faults first (one per request), then the subclass's answer.
 */
export abstract class FakeHttpServer {
  readonly calls: RecordedCall[] = [];
  private readonly faults: Fault[] = [];
  private server: Server | undefined;
  private readonly hanging = new Set<ServerResponse>();
  private portNumber = 0;

  /** Queues faults for the next requests, in order. */
  inject(...faults: Fault[]): this {
    this.faults.push(...faults);
    return this;
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  get url(): string {
    return `http://127.0.0.1:${this.portNumber}`;
  }

  get port(): number {
    return this.portNumber;
  }

  protected abstract route(call: RecordedCall): FakeResponse | Promise<FakeResponse>;

  async listen(port = 0): Promise<this> {
    this.server = createServer((req, res) => void this.onRequest(req, res));
    await new Promise<void>((ok, fail) => {
      this.server!.once('error', fail);
      this.server!.listen(port, '127.0.0.1', () => ok());
    });
    this.portNumber = (this.server.address() as AddressInfo).port;
    return this;
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const u = new URL(req.url ?? '/', 'http://fake');
    const call: RecordedCall = {
      method: req.method ?? 'GET',
      path: u.pathname,
      query: u.searchParams,
      headers: req.headers,
      body: Buffer.concat(chunks).toString('utf8'),
      status: 0,
      at: new Date(),
    };
    this.calls.push(call);
    const fault = this.faults.shift();
    if (fault && 'hang' in fault) {
      this.hanging.add(res);
      res.once('close', () => this.hanging.delete(res));
      return;
    }
    if (fault && 'delayMs' in fault) await new Promise((r) => setTimeout(r, fault.delayMs));
    let answer: FakeResponse;
    if (fault && 'status' in fault) {
      answer = {
        status: fault.status,
        body: fault.body ?? { message: `injected ${fault.status}` },
        headers: fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : {},
      };
    } else {
      try {
        answer = await this.route(call);
      } catch (err) {
        answer = { status: 500, body: { message: String(err) } };
      }
    }
    if (res.destroyed) return;
    call.status = answer.status;
    const isText = typeof answer.body === 'string';
    res.writeHead(answer.status, {
      'content-type': isText ? 'text/plain; charset=utf-8' : 'application/json',
      ...answer.headers,
    });
    res.end(answer.body === undefined ? undefined : isText ? answer.body : JSON.stringify(answer.body));
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
}
