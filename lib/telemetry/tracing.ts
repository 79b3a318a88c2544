// What the code of the mesh needs of tracing, on the OpenTelemetry API only
// (the SDK is the preload's business). `telemetry.tracing` is set by the
// preload once a tracer provider is installed: until then, and for good when
// telemetry is off, the hot paths check that one flag and do nothing else.
import {
  type Context,
  context,
  type Link,
  propagation,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanStatusCode,
  TraceFlags,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import packageJson from '../../package.json' with { type: 'json' };

export const SERVICE_VERSION: string = packageJson.version;

export const telemetry: {
  tracing: boolean;
  /**
   * The share of new traces sampled when the default sampler is installed
   * (sampler.ts), so that the gateway can decide a request's new trace
   * without the SDK (gateway/server-spans.ts); undefined under any other.
   */
  newTraceRatio: number | undefined;
} = { tracing: false, newTraceRatio: undefined };

export function tracer(name: string): Tracer {
  return trace.getTracer(name, SERVICE_VERSION);
}

export function isSampled(span: SpanContext): boolean {
  return (span.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED;
}

/** The W3C `traceparent` (and `traceresponse`) value of a span. */
export function traceparentOf(span: SpanContext): string {
  return `00-${span.traceId}-${span.spanId}-${isSampled(span) ? '01' : '00'}`;
}

/**
 * The parent for work done on behalf of many traced operations at once (one
 * gRPC call for many redirects, one message for many clicks): the first of
 * them that is sampled, else the first (so that work for unsampled
 * operations is not sampled either), else a trace of its own. The work is
 * then linked to each sampled one (span links: it belongs to all of them).
 */
export function onBehalfOf(spans: readonly SpanContext[]): { parent: Context; links: Link[] } {
  const links: Link[] = [];
  let parent: SpanContext | undefined;
  for (const span of spans) {
    if (!isSampled(span)) continue;
    parent ??= span;
    links.push({ context: span });
  }
  parent ??= spans[0];
  return {
    parent: parent ? trace.setSpanContext(ROOT_CONTEXT, parent) : ROOT_CONTEXT,
    links,
  };
}

/** W3C trace context headers of a span, for a message or a request that carries it on. */
export function headersOf(span: Span): Record<string, string> {
  const headers: Record<string, string> = {};
  propagation.inject(trace.setSpan(ROOT_CONTEXT, span), headers);
  return headers;
}

/** The span context that trace context headers carry, if any. */
export function contextOfHeaders(headers: Readonly<Record<string, unknown>> | undefined): Context {
  if (!headers || headers.traceparent === undefined) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, headers, stringGetter);
}

const stringGetter = {
  keys: (carrier: Readonly<Record<string, unknown>>) => Object.keys(carrier),
  get: (carrier: Readonly<Record<string, unknown>>, key: string) => {
    const value = carrier[key];
    // AMQP header values may arrive as Buffers.
    return value === undefined ? undefined : String(value);
  },
};

/** Runs `work` in a span of its own, ended (with the error, if any) when it settles. */
export async function inSpan<T>(span: Span, work: () => Promise<T>): Promise<T> {
  try {
    return await context.with(trace.setSpan(context.active(), span), work);
  } catch (error) {
    recordFailure(span, error);
    throw error;
  } finally {
    span.end();
  }
}

export function recordFailure(span: Span, error: unknown): void {
  if (!span.isRecording()) return;
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: error instanceof Error ? error.message : String(error),
  });
}
