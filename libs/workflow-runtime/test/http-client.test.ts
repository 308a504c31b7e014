import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpClient, PermanentError, TransientError } from '../src/index.js';

// The workflows' HTTP port against a real local server: what each kind of answer becomes.
type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;
let handler: Handler = (_req, _body, res) => res.end();
let server: Server;
let base: string;
const sockets = new Set<string>();

beforeAll(async () => {
  server = createServer((req, res) => {
    sockets.add(`${req.socket.remotePort}`);
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => handler(req, body, res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const client = createHttpClient({ timeoutMs: 500 });
const failureOf = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (err: unknown) => err,
  );

describe('createHttpClient', () => {
  it('sends method, headers and a JSON body, and reads the answer; connections are kept alive', async () => {
    const seen: { method?: string; type?: string; auth?: string; body: string }[] = [];
    handler = (req, body, res) => {
      seen.push({ method: req.method, type: req.headers['content-type'], auth: req.headers.authorization, body });
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ id: '10042', ok: true }));
    };
    sockets.clear();
    for (let i = 0; i < 3; i++) {
      const res = await client.send({
        method: 'POST',
        url: `${base}/rest/api/3/issue/PAY-1/comment`,
        headers: { authorization: 'Basic abc', 'content-type': 'application/json' },
        body: JSON.stringify({ body: 'ünïcode' }),
        what: 'Jira comment',
      });
      expect(res.status).toBe(200);
      expect(res.json()).toEqual({ id: '10042', ok: true });
    }
    expect(seen[0]).toEqual({ method: 'POST', type: 'application/json', auth: 'Basic abc', body: '{"body":"ünïcode"}' });
    expect(sockets.size).toBe(1);
  });

  it('sends URLSearchParams as a form, as GitLab triggers expect', async () => {
    let got: { type?: string; body: string } | undefined;
    handler = (req, body, res) => {
      got = { type: req.headers['content-type'], body };
      res.statusCode = 201;
      res.end('{"id":7}');
    };
    const form = new URLSearchParams({ token: 't', ref: 'release/2026.48', 'variables[A]': 'b c' });
    await client.send({ method: 'POST', url: `${base}/trigger`, body: form, what: 'GitLab pipeline trigger' });
    expect(got?.type).toMatch(/^application\/x-www-form-urlencoded/);
    expect(new URLSearchParams(got?.body).get('variables[A]')).toBe('b c');
  });

  it('maps 503 with Retry-After to a transient error, 404 to a permanent one, without the URL', async () => {
    handler = (_req, _body, res) => {
      res.statusCode = 503;
      res.setHeader('retry-after', '2');
      res.end('maintenance');
    };
    const transient = await failureOf(client.send({ method: 'GET', url: `${base}/secret-token/x`, what: 'Slack webhook' }));
    expect(transient).toBeInstanceOf(TransientError);
    expect((transient as TransientError).retryAfterMs).toBe(2000);
    expect((transient as Error).message).toBe('Slack webhook: HTTP 503 maintenance');

    handler = (_req, _body, res) => {
      res.statusCode = 404;
      res.end('{"message":"404 Not found"}');
    };
    const permanent = await failureOf(client.send({ method: 'GET', url: `${base}/secret-token/x`, what: 'Slack webhook' }));
    expect(permanent).toBeInstanceOf(PermanentError);
    expect((permanent as PermanentError).status).toBe(404);
    expect((permanent as Error).message).not.toContain('secret-token');
  });

  it('a slow answer, a refused connection and an abort are transient, naming what happened', async () => {
    handler = () => undefined; // never answers
    const slow = await failureOf(client.send({ method: 'GET', url: `${base}/slow`, what: 'Jira get issue PAY-1' }));
    expect(slow).toBeInstanceOf(TransientError);
    expect((slow as Error).message).toBe('Jira get issue PAY-1: no response within 500 ms');

    const refused = await failureOf(client.send({ method: 'GET', url: 'http://127.0.0.1:1/x', what: 'GitLab pipeline trigger' }));
    expect(refused).toBeInstanceOf(TransientError);
    expect((refused as Error).message).toBe('GitLab pipeline trigger: ECONNREFUSED');

    const controller = new AbortController();
    const pending = failureOf(
      client.send({ method: 'GET', url: `${base}/slow`, what: 'Slack webhook', signal: controller.signal }),
    );
    controller.abort(new Error('shutting down'));
    const aborted = await pending;
    expect(aborted).toBeInstanceOf(TransientError);
    expect((aborted as Error).message).toBe('Slack webhook: aborted');
  });

  it('refuses a non-HTTP URL and a non-JSON answer read as JSON, permanently', async () => {
    const ftp = await failureOf(client.send({ method: 'GET', url: 'ftp://example.com/x', what: 'GitLab pipeline trigger' }));
    expect(ftp).toBeInstanceOf(PermanentError);
    expect((ftp as Error).message).toBe('GitLab pipeline trigger: only http and https URLs are supported');

    handler = (_req, _body, res) => res.end('<html>proxy error</html>');
    const res = await client.send({ method: 'GET', url: `${base}/html`, what: 'Jira transitions of PAY-1' });
    expect(() => res.json()).toThrow(PermanentError);
    expect(() => res.json()).toThrow('Jira transitions of PAY-1: response is not JSON');
  });
});
