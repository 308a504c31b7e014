/** A tiny HTTP client for the gateway tests: JSON in, status + JSON out. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- test responses are asserted field by field
export interface HttpResult<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export function client(baseUrl: string) {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return async function http<T = any>(
    method: string,
    path: string,
    options: { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
  ): Promise<HttpResult<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let body: string | undefined;
    if (options.rawBody !== undefined) {
      body = options.rawBody;
      headers['content-type'] ??= 'application/json';
    } else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    const res = await fetch(`${baseUrl}${path}`, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  };
}

export const tokens = {
  viewer: 'viewer-token-0123456789',
  operator: 'operator-token-0123456789',
  admin: 'admin-token-0123456789',
};

export const GATEWAY_TOKENS = `vera:viewer:${tokens.viewer},otto:operator:${tokens.operator},ada:admin:${tokens.admin}`;

/** Reads Server-Sent Events from a fetch body until `until` says stop. */
export async function readEvents(
  body: ReadableStream<Uint8Array>,
  until: (events: { event: string; data: string }[]) => boolean,
): Promise<{ event: string; data: string }[]> {
  const events: { event: string; data: string }[] = [];
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    while (!until(events)) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event) events.push({ event, data: data ?? '' });
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return events;
}

/** A response read off a raw socket. */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** ms from connect until the server closed the connection (or the response was complete). */
  ms: number;
}

/**
 * Sends `head` (request line and headers, without the final blank line) byte for byte over a
 * plain socket — `fetch` would normalise `/%61pi/..`, `//api` and `..` before they reach the
 * server — then `body` chunks every `chunkEveryMs` (`headComplete: false` leaves the headers open,
 * so the chunks continue them). Resolves when the server closes the
 * connection (requests say `connection: close`) or after `timeoutMs` with status 0.
 */
export async function rawRequest(
  port: number,
  head: string,
  options: { body?: string[]; chunkEveryMs?: number; timeoutMs?: number; headComplete?: boolean } = {},
): Promise<RawResponse> {
  const { connect } = await import('node:net');
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(timer);
      clearTimeout(deadline);
      socket.destroy();
      const split = data.indexOf('\r\n\r\n');
      const headText = split >= 0 ? data.slice(0, split) : data;
      const [statusLine = '', ...lines] = headText.split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({
        status: Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1] ?? 0),
        headers,
        body: split >= 0 ? data.slice(split + 4) : '',
        ms: Date.now() - started,
      });
    };
    const deadline = setTimeout(finish, options.timeoutMs ?? 10_000);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (data += chunk));
    socket.on('close', finish);
    socket.on('error', () => undefined);
    socket.on('connect', () => {
      const crlfHead = head.replace(/\r?\n/g, '\r\n').trimEnd();
      socket.write(options.headComplete === false ? crlfHead : `${crlfHead}\r\n\r\n`);
      const chunks = [...(options.body ?? [])];
      const next = () => {
        const chunk = chunks.shift();
        if (chunk === undefined || socket.destroyed) return;
        socket.write(chunk);
        timer = setTimeout(next, options.chunkEveryMs ?? 0);
      };
      next();
    });
  });
}

/** `GET path` exactly as written, with an optional bearer token. */
export function rawGet(port: number, path: string, token?: string, method = 'GET'): Promise<RawResponse> {
  const auth = token ? `\nauthorization: Bearer ${token}` : '';
  return rawRequest(port, `${method} ${path} HTTP/1.1\nhost: 127.0.0.1\nconnection: close${auth}`);
}
