import { AsyncLocalStorage } from 'node:async_hooks';
import { randomFillSync } from 'node:crypto';

/**
 * Where one transition's work is in its trace: the W3C trace id it shares with everything done for
 * it, the span doing the work now (the parent of whatever it starts), the sampled flag, and the
 * correlation id a client gave (or the trace id). Travels as `traceparent` + `X-Correlation-Id`
 * headers (HTTP, NATS) and inside the work item (`WorkItem.trace`).
 */
export interface TraceContext {
  /** 32 lowercase hex digits, not all zero. */
  traceId: string;
  /** 16 lowercase hex digits, not all zero: the current span. */
  spanId: string;
  sampled: boolean;
  correlationId: string;
}

/** Header names, as HTTP and NATS headers (HTTP is case-insensitive; NATS headers are read case-insensitively here). */
export const TRACEPARENT_HEADER = 'traceparent';
export const CORRELATION_ID_HEADER = 'X-Correlation-Id';

const HEX_TRACE_ID = /^[0-9a-f]{32}$/;
const HEX_SPAN_ID = /^[0-9a-f]{16}$/;
const ALL_ZERO = /^0+$/;
/** version-traceid-parentid-flags; versions after 00 may append fields (W3C Trace Context, level 1). */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
/** A correlation id a client chose: short, printable, safe in a log line and a header. */
const CORRELATION_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** The parts of a valid `traceparent`, or undefined for anything W3C says to ignore. */
export function parseTraceparent(
  header: string | undefined | null,
): { traceId: string; spanId: string; sampled: boolean } | undefined {
  if (typeof header !== 'string') return undefined;
  const m = TRACEPARENT.exec(header.trim());
  if (!m) return undefined;
  const [, version, traceId, spanId, flags, rest] = m as unknown as [string, string, string, string, string, string | undefined];
  // ff is forbidden; version 00 has exactly four fields.
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (ALL_ZERO.test(traceId) || ALL_ZERO.test(spanId)) return undefined;
  return { traceId, spanId, sampled: (parseInt(flags, 16) & 1) === 1 };
}

export function formatTraceparent(ctx: Pick<TraceContext, 'traceId' | 'spanId' | 'sampled'>): string {
  return `00-${ctx.traceId}-${ctx.spanId}-${ctx.sampled ? '01' : '00'}`;
}

/**
 * Random bytes from a pool refilled 4 KB at a time (the same CSPRNG): `randomBytes` per id was
 * one `getrandom` call per span, ~25 µs each on this machine.
 */
const pool = Buffer.alloc(4096);
let poolAt = pool.length;

function randomHex(bytes: number): string {
  for (;;) {
    if (poolAt + bytes > pool.length) {
      randomFillSync(pool);
      poolAt = 0;
    }
    const hex = pool.toString('hex', poolAt, poolAt + bytes);
    poolAt += bytes;
    if (!ALL_ZERO.test(hex)) return hex;
  }
}
export const newTraceId = (): string => randomHex(16);
export const newSpanId = (): string => randomHex(8);

export function isTraceId(value: unknown): value is string {
  return typeof value === 'string' && HEX_TRACE_ID.test(value) && !ALL_ZERO.test(value);
}
export function isSpanId(value: unknown): value is string {
  return typeof value === 'string' && HEX_SPAN_ID.test(value) && !ALL_ZERO.test(value);
}

/** The client's correlation id when it is sane (see CORRELATION_ID), else undefined. */
export function saneCorrelationId(value: string | undefined | null): string | undefined {
  return typeof value === 'string' && CORRELATION_ID.test(value) ? value : undefined;
}

/**
 * The context a request or message arrived with: its `traceparent` continued (the caller's span
 * becomes the parent; `spanId` here is still the caller's until a span of ours starts), or a new
 * trace when it has none or an invalid one (W3C: ignore it, never fail). The correlation id is
 * the caller's when sane, else the trace id.
 */
export function incomingTrace(traceparent: string | undefined | null, correlationId?: string | null): TraceContext {
  const parsed = parseTraceparent(traceparent);
  const traceId = parsed?.traceId ?? newTraceId();
  return {
    traceId,
    spanId: parsed?.spanId ?? newSpanId(),
    sampled: parsed?.sampled ?? true,
    correlationId: saneCorrelationId(correlationId) ?? traceId,
  };
}

/** The headers that carry `ctx` to the next service. */
export function traceHeaders(ctx: TraceContext): Record<string, string> {
  return { [TRACEPARENT_HEADER]: formatTraceparent(ctx), [CORRELATION_ID_HEADER]: ctx.correlationId };
}

const storage = new AsyncLocalStorage<TraceContext>();

/** The trace of the work running now (set by `withTrace`), if any. */
export function currentTrace(): TraceContext | undefined {
  return storage.getStore();
}

/** Runs `fn` with `ctx` as the current trace: log lines, bus requests and publishes inside carry it. */
export function withTrace<T>(ctx: TraceContext, fn: () => T): T {
  return storage.run(ctx, fn);
}
