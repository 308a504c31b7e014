import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import type { TracerProvider } from '@opentelemetry/sdk-trace';
import { newSpanId, newTraceId, type TraceContext } from './trace.js';

let tracer: Tracer | undefined;
let provider: TracerProvider | undefined;

/**
 * Exports this process's spans over OTLP/HTTP (JSON) to `endpoint` (`OTEL_EXPORTER_OTLP_ENDPOINT`:
 * the collector's base URL, `/v1/traces` is appended as the OTLP spec says). Without an endpoint
 * nothing is set up: spans are just fresh span ids (no SDK object, no timer, no export) and the
 * SDK is not even loaded (it adds ~16 MB of resident memory to a process).
 * Returns a flush-and-stop for the graceful shutdown.
 */
export async function startTracing(service: string, endpoint: string | undefined): Promise<{ stop(): Promise<void> }> {
  if (!endpoint) return { stop: async () => undefined };
  const [{ OTLPTraceExporter }, { resourceFromAttributes }, { BatchSpanProcessor, TracerProvider }] = await Promise.all([
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-trace'),
  ]);
  const url = `${endpoint.replace(/\/+$/, '')}/v1/traces`;
  provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': service }),
    // Batched (one POST per half second at most); spans are small, the queue bounded by the SDK.
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url }), scheduledDelayMillis: 500 })],
  });
  tracer = provider.getTracer('@patchflow/log');
  const mine = provider;
  return {
    stop: async () => {
      await mine.shutdown().catch(() => undefined);
      if (provider === mine) [provider, tracer] = [undefined, undefined];
    },
  };
}

export type SpanKindName = 'server' | 'client' | 'consumer' | 'producer' | 'internal';
const kinds: Record<SpanKindName, SpanKind> = {
  server: SpanKind.SERVER,
  client: SpanKind.CLIENT,
  consumer: SpanKind.CONSUMER,
  producer: SpanKind.PRODUCER,
  internal: SpanKind.INTERNAL,
};

/** One unit of traced work: `trace` is the context inside it (its span id is the parent of what it starts). */
export interface TraceSpan {
  readonly trace: TraceContext;
  setAttributes(attributes: Attributes): void;
  /** Ends the span (once; later calls do nothing); an error marks it failed. */
  end(error?: string): void;
}

/**
 * Starts a span as a child of `parent` (a new trace without one). With tracing exported the
 * span is the SDK's and its id comes from it; without, it is only a new span id in the context.
 */
export function startSpan(
  name: string,
  parent: TraceContext | undefined,
  attributes: Attributes = {},
  kind: SpanKindName = 'internal',
): TraceSpan {
  if (!tracer) {
    const traceId = parent?.traceId ?? newTraceId();
    const ctx: TraceContext = {
      traceId,
      spanId: newSpanId(),
      sampled: parent?.sampled ?? true,
      correlationId: parent?.correlationId ?? traceId,
    };
    return { trace: ctx, setAttributes: () => undefined, end: () => undefined };
  }
  const parentContext = parent
    ? trace.setSpanContext(ROOT_CONTEXT, {
        traceId: parent.traceId,
        spanId: parent.spanId,
        traceFlags: parent.sampled ? 1 : 0,
        isRemote: true,
      })
    : ROOT_CONTEXT;
  const span: Span = tracer.startSpan(name, { kind: kinds[kind], attributes }, parentContext);
  const sc = span.spanContext();
  const correlationId = parent?.correlationId ?? sc.traceId;
  span.setAttribute('correlation.id', correlationId);
  let ended = false;
  return {
    trace: { traceId: sc.traceId, spanId: sc.spanId, sampled: (sc.traceFlags & 1) === 1, correlationId },
    setAttributes: (a) => span.setAttributes(a),
    end: (error) => {
      if (ended) return;
      ended = true;
      if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
      span.end();
    },
  };
}
