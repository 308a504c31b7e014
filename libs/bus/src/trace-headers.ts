import { headers, type MsgHdrs } from '@nats-io/transport-node';
import {
  CORRELATION_ID_HEADER,
  currentTrace,
  formatTraceparent,
  incomingTrace,
  TRACEPARENT_HEADER,
  type TraceContext,
} from '@patchflow/log';

/**
 * NATS headers carrying the current trace (`traceparent`, `X-Correlation-Id`) onto `into` (new
 * headers when not given); undefined outside a trace and nothing given, so untraced messages stay
 * header-free.
 */
export function withTraceHeaders(into?: MsgHdrs): MsgHdrs | undefined {
  const t = currentTrace();
  if (!t) return into;
  const h = into ?? headers();
  h.set(TRACEPARENT_HEADER, formatTraceparent(t));
  h.set(CORRELATION_ID_HEADER, t.correlationId);
  return h;
}

/** The raw trace headers of a received message (either may be missing). */
export function traceHeadersOf(h: MsgHdrs | undefined): { traceparent?: string; correlationId?: string } {
  const traceparent = h?.get(TRACEPARENT_HEADER) || undefined;
  const correlationId = h?.get(CORRELATION_ID_HEADER) || undefined;
  return { ...(traceparent ? { traceparent } : {}), ...(correlationId ? { correlationId } : {}) };
}

/** The trace a received request continues: its caller's, or none when it came without one. */
export function requestTrace(h: MsgHdrs | undefined): TraceContext | undefined {
  const { traceparent, correlationId } = traceHeadersOf(h);
  return traceparent ? incomingTrace(traceparent, correlationId) : undefined;
}
