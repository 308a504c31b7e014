import http from 'node:http';
import https from 'node:https';
import { PermanentError, TransientError } from './errors.js';
import { httpStatusKind, parseRetryAfter } from './retry-policy.js';

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT';
  url: string;
  headers?: Record<string, string>;
  body?: string | URLSearchParams;
  /** Names the call in errors and logs instead of the URL (URLs may carry secrets: webhooks). */
  what: string;
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  text: string;
  json(): unknown;
}

/** An HTTP port: resolves on 2xx, throws TransientError / PermanentError otherwise. */
export interface HttpClient {
  send(request: HttpRequest): Promise<HttpResponse>;
}

/** The largest response body read; a longer one is cut off (no API answer we read comes near). */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

/**
 * An HTTP client on `node:http`/`node:https` with keep-alive connections, a timeout for the
 * whole exchange, mapping failures onto the workflow error kinds as the retry policy says
 * (`httpStatusKind`): network errors and timeouts are transient, and so are 408, 429 and 5xx
 * (with `Retry-After`); any other 4xx is permanent. Error messages name `what` and the status,
 * never the URL or the request body.
 *
 * Not `fetch`: on Node 20 its WHATWG streams and abort-signal plumbing cost about four times the
 * CPU of a plain request per call (`bench:e2e -- --prof` showed it as the workflows' largest item).
 */
export function createHttpClient(options: { timeoutMs: number; maxSockets?: number }): HttpClient {
  const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 32, maxFreeSockets: 8 };
  const agents = { 'http:': new http.Agent(agentOptions), 'https:': new https.Agent(agentOptions) };
  return {
    async send(req) {
      const url = new URL(req.url);
      const agent = url.protocol === 'http:' || url.protocol === 'https:' ? agents[url.protocol] : undefined;
      if (!agent) throw new PermanentError(`${req.what}: only http and https URLs are supported`);
      const headers: Record<string, string> = { accept: '*/*', ...req.headers };
      let body: string | undefined;
      if (req.body instanceof URLSearchParams) {
        body = req.body.toString();
        headers['content-type'] ??= 'application/x-www-form-urlencoded;charset=UTF-8';
      } else if (req.body !== undefined) {
        body = req.body;
        headers['content-type'] ??= 'text/plain;charset=UTF-8';
      }
      if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
      const { status, retryAfter, text } = await exchange(url, req, agent, headers, body, options.timeoutMs);
      const snippet = text.slice(0, 300);
      const kind = httpStatusKind(status);
      if (kind === 'transient')
        throw new TransientError(`${req.what}: HTTP ${status} ${snippet}`.trim(), parseRetryAfter(retryAfter));
      if (kind === 'permanent') throw new PermanentError(`${req.what}: HTTP ${status} ${snippet}`.trim(), { status });
      return {
        status,
        text,
        json: () => {
          try {
            return JSON.parse(text) as unknown;
          } catch (err) {
            throw new PermanentError(`${req.what}: response is not JSON`, { cause: err });
          }
        },
      };
    },
  };
}

/** One request and its whole response body; every failure (network, timeout, abort) is transient. */
function exchange(
  url: URL,
  req: HttpRequest,
  agent: http.Agent,
  headers: Record<string, string>,
  body: string | undefined,
  timeoutMs: number,
): Promise<{ status: number; retryAfter: string | undefined; text: string }> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (message: string, cause?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onAbort);
      request.destroy();
      reject(new TransientError(`${req.what}: ${message}`, undefined, { cause }));
    };
    const onAbort = () => fail('aborted', req.signal?.reason);
    const timer = setTimeout(() => fail(`no response within ${timeoutMs} ms`), timeoutMs);
    const transport = url.protocol === 'https:' ? https : http;
    const request = transport.request(url, { method: req.method, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        if (size < MAX_BODY_BYTES) chunks.push(chunk);
        size += chunk.length;
      });
      res.on('error', (err) => fail('response body interrupted', err));
      res.on('aborted', () => fail('response body interrupted'));
      res.on('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.signal?.removeEventListener('abort', onAbort);
        const retryAfter = res.headers['retry-after'];
        resolve({ status: res.statusCode ?? 0, retryAfter, text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    request.on('error', (err) => fail(networkReason(err), err));
    if (req.signal?.aborted) return onAbort();
    req.signal?.addEventListener('abort', onAbort, { once: true });
    request.end(body);
  });
}

function networkReason(err: unknown): string {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : err instanceof Error ? err.message : String(err);
}
