import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from './index.js';
import {
  currentTrace,
  formatTraceparent,
  incomingTrace,
  isSpanId,
  isTraceId,
  newSpanId,
  newTraceId,
  parseTraceparent,
  saneCorrelationId,
  traceHeaders,
  withTrace,
} from './trace.js';
import { startSpan, startTracing } from './tracing.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

describe('trace and span ids', () => {
  it('are valid and distinct across many pool refills', () => {
    const spans = Array.from({ length: 5000 }, () => newSpanId());
    const traces = Array.from({ length: 2000 }, () => newTraceId());
    expect(spans.every(isSpanId)).toBe(true);
    expect(traces.every(isTraceId)).toBe(true);
    expect(new Set(spans).size).toBe(spans.length);
    expect(new Set(traces).size).toBe(traces.length);
    // Every hex digit turns up in every position of the trace ids: random, not stuck.
    for (let i = 0; i < 32; i++) expect(new Set(traces.map((t) => t[i])).size, `digit ${i}`).toBe(16);
  });
});

describe('traceparent', () => {
  it('parses a valid header (sampled or not) and formats it back', () => {
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-01`)).toEqual({ traceId: TRACE, spanId: SPAN, sampled: true });
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-00`)).toEqual({ traceId: TRACE, spanId: SPAN, sampled: false });
    expect(formatTraceparent({ traceId: TRACE, spanId: SPAN, sampled: true })).toBe(`00-${TRACE}-${SPAN}-01`);
    // A later version may carry more fields: the first four are read.
    expect(parseTraceparent(`01-${TRACE}-${SPAN}-01-extra`)).toEqual({ traceId: TRACE, spanId: SPAN, sampled: true });
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['garbage', 'not-a-traceparent'],
    ['version ff', `ff-${TRACE}-${SPAN}-01`],
    ['version 00 with extra fields', `00-${TRACE}-${SPAN}-01-extra`],
    ['all-zero trace id', `00-${'0'.repeat(32)}-${SPAN}-01`],
    ['all-zero span id', `00-${TRACE}-${'0'.repeat(16)}-01`],
    ['uppercase hex', `00-${TRACE.toUpperCase()}-${SPAN}-01`],
    ['short trace id', `00-${TRACE.slice(1)}-${SPAN}-01`],
    ['non-hex flags', `00-${TRACE}-${SPAN}-zz`],
  ])('ignores an invalid one (%s)', (_what, header) => {
    expect(parseTraceparent(header)).toBeUndefined();
  });

  it('continues a valid incoming trace and starts a new one for a bad header, never failing', () => {
    const continued = incomingTrace(`00-${TRACE}-${SPAN}-01`, 'order-42');
    expect(continued).toEqual({ traceId: TRACE, spanId: SPAN, sampled: true, correlationId: 'order-42' });
    const fresh = incomingTrace('00-garbage', 'bad id with spaces');
    expect(fresh.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(fresh.traceId).not.toBe(TRACE);
    expect(fresh.spanId).toMatch(/^[0-9a-f]{16}$/);
    // An unusable correlation id falls back to the trace id.
    expect(fresh.correlationId).toBe(fresh.traceId);
    expect(traceHeaders(continued)).toEqual({ traceparent: `00-${TRACE}-${SPAN}-01`, 'X-Correlation-Id': 'order-42' });
  });

  it('accepts only short printable correlation ids', () => {
    expect(saneCorrelationId('req-1:abc/2')).toBe('req-1:abc/2');
    expect(saneCorrelationId('x'.repeat(129))).toBeUndefined();
    expect(saneCorrelationId('a\nb')).toBeUndefined();
    expect(saneCorrelationId('')).toBeUndefined();
  });
});

describe('trace context', () => {
  it('is current inside withTrace (across awaits) and puts traceId on every log line there', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    const into = createLogger('test', 'info', sink);
    const ctx = incomingTrace(`00-${TRACE}-${SPAN}-01`, 'corr-1');
    await withTrace(ctx, async () => {
      await new Promise((r) => setTimeout(r, 1));
      expect(currentTrace()).toBe(ctx);
      into.info('inside');
    });
    into.info('outside');
    expect(currentTrace()).toBeUndefined();
    expect(lines[0]).toMatchObject({ msg: 'inside', traceId: TRACE, correlationId: 'corr-1' });
    expect(lines[1]).not.toHaveProperty('traceId');
  });
});

describe('spans', () => {
  const received: unknown[] = [];
  let server: Server | undefined;

  afterAll(async () => {
    await new Promise((r) => server?.close(r));
  });

  it('without an endpoint: a child span keeps the trace and gets a new id, nothing exported', () => {
    const parent = incomingTrace(`00-${TRACE}-${SPAN}-01`, 'c');
    const span = startSpan('work', parent);
    expect(span.trace.traceId).toBe(TRACE);
    expect(span.trace.spanId).not.toBe(SPAN);
    expect(span.trace.correlationId).toBe('c');
    span.end();
  });

  it('with OTEL_EXPORTER_OTLP_ENDPOINT: spans are posted as OTLP/HTTP JSON with service.name and parent links', async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push({ url: req.url, type: req.headers['content-type'], body: JSON.parse(body) as unknown });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const tracing = await startTracing('svc-under-test', `http://127.0.0.1:${port}/`);
    const parent = incomingTrace(`00-${TRACE}-${SPAN}-01`);
    const outer = startSpan('outer', parent, { patchId: 'p1' }, 'server');
    const inner = startSpan('inner', outer.trace);
    inner.end('it broke');
    outer.end();
    await tracing.stop();
    expect(received.length).toBeGreaterThan(0);
    const first = received[0] as { url: string; type: string; body: OtlpBody };
    expect(first.url).toBe('/v1/traces');
    expect(first.type).toContain('application/json');
    const spans = received.flatMap((r) =>
      (r as { body: OtlpBody }).body.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((s) => s.spans)),
    );
    const resource = (received[0] as { body: OtlpBody }).body.resourceSpans[0]!.resource.attributes;
    expect(resource).toContainEqual({ key: 'service.name', value: { stringValue: 'svc-under-test' } });
    const byName = Object.fromEntries(spans.map((s) => [s.name, s]));
    expect(byName.outer).toMatchObject({ traceId: TRACE, parentSpanId: SPAN, spanId: outer.trace.spanId });
    expect(byName.inner).toMatchObject({ traceId: TRACE, parentSpanId: outer.trace.spanId, spanId: inner.trace.spanId });
    expect(byName.inner!.status).toMatchObject({ code: 2, message: 'it broke' });
  });
});

interface OtlpBody {
  resourceSpans: {
    resource: { attributes: unknown[] };
    scopeSpans: { spans: { name: string; traceId: string; spanId: string; parentSpanId?: string; status: unknown }[] }[];
  }[];
}
