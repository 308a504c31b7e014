import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { HttpErrorBody } from './http-errors.js';
import type { HttpLimits } from './http-limits.js';

/**
 * Headers on every response: nothing may frame a gateway page (clickjacking), sniff a JSON body
 * into HTML, or cache an API answer (it carries patch data for one token). A route that sets its
 * own Content-Security-Policy or Cache-Control (the UI's files) keeps it.
 */
export const securityHeaders: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};
export const apiContentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'";

export function setSecurityHeaders(reply: FastifyReply): FastifyReply {
  reply.headers(securityHeaders);
  if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', apiContentSecurityPolicy);
  if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
  return reply;
}

/** The `onSend` hook: every reply that goes through Fastify gets the headers. */
export async function addSecurityHeaders(_request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
  setSecurityHeaders(reply);
  return payload;
}

/**
 * Answers what Node refuses before Fastify sees a request — a request not received within the
 * request timeout (408), headers over 16 KB (431), a malformed request (400) — in the gateway's
 * error shape, then closes the connection. Nothing is written when a response has already begun
 * on the socket: a second status line would corrupt it.
 */
export function clientErrorHandler(limits: HttpLimits) {
  return (err: Error & { code?: string }, socket: Socket): void => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const [status, reason, body]: [number, string, HttpErrorBody] =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [
            408,
            'Request Timeout',
            { code: 'timeout', message: `the request was not received within ${limits.requestTimeoutMs} ms` },
          ]
        : err.code === 'HPE_HEADER_OVERFLOW'
          ? [431, 'Request Header Fields Too Large', { code: 'validation_failed', message: 'the request headers are too large' }]
          : [400, 'Bad Request', { code: 'validation_failed', message: 'malformed HTTP request' }];
    const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (socket.writable && !inFlight?.headersSent) {
      const json = JSON.stringify({ error: body });
      const headers = {
        'content-type': 'application/json; charset=utf-8',
        'content-length': String(Buffer.byteLength(json)),
        'cache-control': 'no-store',
        'content-security-policy': apiContentSecurityPolicy,
        connection: 'close',
        ...securityHeaders,
      };
      const head = Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      socket.write(`HTTP/1.1 ${status} ${reason}\r\n${head}\r\n${json}`);
    }
    socket.destroy();
  };
}
