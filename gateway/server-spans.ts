// One server span per HTTP request, made here for both the redirect path and
// Fastify: the redirect path runs on plain node:http for speed, so this costs
// a redirect one span start (the sampler's decision and two ids), the
// `traceresponse` header and, only when the span is sampled, one 'close'
// listener that is the same function for every request (no closure). The
// header is kept on the response for whoever writes its head to put among
// its own (traceHeaders): a setHeader before writeHead sends node:http down
// its slower path of merging headers, about 8% of a bare redirect server. A
// request with no trace context is decided without the SDK unless it is
// sampled (startNewTrace). Fastify names the span after its route (app.ts);
// a request with a sampled `traceparent` continues the caller's trace
// (parent-based sampling).
import { randomFillSync } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  type SpanOptions,
  SpanStatusCode,
  TraceFlags,
  trace,
} from '@opentelemetry/api';
import { CHOSEN_NEW_TRACE } from '../lib/telemetry/sampler.ts';
import { telemetry, traceparentOf, tracer } from '../lib/telemetry/tracing.ts';

const SERVER_SPAN: unique symbol = Symbol('server span');

const TRACE_RESPONSE: unique symbol = Symbol('traceresponse');

interface TracedResponse extends ServerResponse {
  [SERVER_SPAN]?: Span;
  [TRACE_RESPONSE]?: string;
}

const gatewayTracer = tracer('shortener.gateway');

function ended(this: TracedResponse): void {
  const span = this[SERVER_SPAN];
  if (!span) return;
  const status = this.statusCode;
  span.setAttribute('http.response.status_code', status);
  if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
  if (!this.writableFinished) span.setAttribute('error.type', 'connection_closed');
  span.end();
}

/**
 * Random ids for the new traces that are not sampled, drawn from a pool
 * filled a few kilobytes at a time: the SDK's generator and sampler cost a
 * redirect more than the rest of its span.
 */
const ID_POOL = Buffer.alloc(4096);
let poolUsed = ID_POOL.length;
const NO_TRACE_ID = '0'.repeat(32);

function randomHex(bytes: number): string {
  if (poolUsed + bytes > ID_POOL.length) {
    randomFillSync(ID_POOL);
    poolUsed = 0;
  }
  const hex = ID_POOL.toString('hex', poolUsed, poolUsed + bytes);
  poolUsed += bytes;
  return hex;
}

function serverSpanOptions(method: string): SpanOptions {
  return { kind: SpanKind.SERVER, attributes: { 'http.request.method': method } };
}

/**
 * A request that carries no trace context starts a new trace. Under the
 * default sampler (parent-based, a ratio of new traces) its draw is made
 * here: the few that are sampled start their span through the SDK, told they
 * were chosen (CHOSEN_NEW_TRACE); the rest get a span context of their own
 * ids that records nothing, which is what the SDK would have made of them.
 */
function startNewTrace(method: string, ratio: number): Span {
  if (Math.random() < ratio) {
    return gatewayTracer.startSpan(method, serverSpanOptions(method), CHOSEN_NEW_TRACE);
  }
  let traceId = randomHex(16);
  while (traceId === NO_TRACE_ID) traceId = randomHex(16);
  return trace.wrapSpanContext({ traceId, spanId: randomHex(8), traceFlags: TraceFlags.NONE });
}

/** Starts the request's server span and puts its trace id on the response. */
export function startServerSpan(request: IncomingMessage, response: ServerResponse): Span {
  const method = request.method ?? 'GET';
  const ratio = telemetry.newTraceRatio;
  const span =
    request.headers.traceparent === undefined && ratio !== undefined
      ? startNewTrace(method, ratio)
      : gatewayTracer.startSpan(
          method,
          serverSpanOptions(method),
          request.headers.traceparent === undefined
            ? ROOT_CONTEXT
            : propagation.extract(ROOT_CONTEXT, request.headers),
        );
  (response as TracedResponse)[SERVER_SPAN] = span;
  (response as TracedResponse)[TRACE_RESPONSE] = traceparentOf(span.spanContext());
  if (span.isRecording()) {
    span.setAttribute('url.path', request.url ?? '');
    response.once('close', ended);
  }
  return span;
}

/**
 * The headers of a response written with writeHead, with its trace id
 * (`traceresponse`) among them when it is traced; the same object otherwise.
 */
export function traceHeaders<H extends Record<string, string>>(
  response: ServerResponse,
  headers: H,
): H {
  const value = (response as TracedResponse)[TRACE_RESPONSE];
  return value === undefined ? headers : { ...headers, traceresponse: value };
}

/** For responses whose head someone else writes (Fastify): the trace id as a header now. */
export function setTraceHeader(response: ServerResponse): void {
  const value = (response as TracedResponse)[TRACE_RESPONSE];
  if (value !== undefined) response.setHeader('traceresponse', value);
}

/** Names a sampled server span after the route that serves it. */
export function nameServerSpan(response: ServerResponse, method: string, route: string): void {
  const span = (response as TracedResponse)[SERVER_SPAN];
  if (!span?.isRecording()) return;
  span.updateName(`${method} ${route}`);
  span.setAttribute('http.route', route);
}

/** The server span of the request a response answers, if tracing is on. */
export function serverSpanOf(response: ServerResponse): Span | undefined {
  return (response as TracedResponse)[SERVER_SPAN];
}

/** The context Fastify's handling of a request runs in: its server span's. */
export function serverContext(span: Span): Context {
  return trace.setSpan(context.active(), span);
}
