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

/**
 * `fetch` with a timeout, mapping failures onto the workflow error kinds as the retry policy
 * says (`httpStatusKind`): network errors and timeouts are transient, and so are 408, 429 and
 * 5xx (with `Retry-After`); any other 4xx is permanent. Error messages name `what` and the
 * status, never the URL or the request body.
 */
export function createHttpClient(options: { timeoutMs: number }): HttpClient {
  return {
    async send(req) {
      const signals = [AbortSignal.timeout(options.timeoutMs), ...(req.signal ? [req.signal] : [])];
      let res: Response;
      try {
        res = await fetch(req.url, {
          method: req.method,
          headers: req.headers,
          body: req.body,
          signal: AbortSignal.any(signals),
        });
      } catch (err) {
        const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
        throw new TransientError(
          timedOut ? `${req.what}: no response within ${options.timeoutMs} ms` : `${req.what}: ${networkReason(err)}`,
          undefined,
          { cause: err },
        );
      }
      let text: string;
      try {
        text = await res.text();
      } catch (err) {
        throw new TransientError(`${req.what}: response body interrupted`, undefined, { cause: err });
      }
      const snippet = text.slice(0, 300);
      const kind = httpStatusKind(res.status);
      if (kind === 'transient') {
        throw new TransientError(
          `${req.what}: HTTP ${res.status} ${snippet}`.trim(),
          parseRetryAfter(res.headers.get('retry-after')),
        );
      }
      if (kind === 'permanent')
        throw new PermanentError(`${req.what}: HTTP ${res.status} ${snippet}`.trim(), { status: res.status });
      return {
        status: res.status,
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

function networkReason(err: unknown): string {
  const cause = err instanceof Error ? (err.cause as { code?: string; message?: string } | undefined) : undefined;
  return cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
}
