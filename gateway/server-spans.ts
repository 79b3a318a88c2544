// One server span per HTTP request, made here for both the redirect path and
// Fastify: the redirect path runs on plain node:http for speed, so this costs
// a redirect one span start (the sampler's decision and two ids), the
// `traceresponse` header and, only when the span is sampled, one 'close'
// listener that is the same function for every request (no closure). The
// header is kept on the response for whoever writes its head to put among
// its own (traceHeaders): a setHeader before writeHead sends node:http down
// its slower path of merging headers, about 8% of a bare redirect server. Fastify
// names the span after its route (app.ts); a request with a sampled
// `traceparent` continues the caller's trace (parent-based sampling).
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { traceparentOf, tracer } from '../lib/telemetry/tracing.ts';

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

/** Starts the request's server span and puts its trace id on the response. */
export function startServerSpan(request: IncomingMessage, response: ServerResponse): Span {
  const parent =
    request.headers.traceparent === undefined
      ? ROOT_CONTEXT
      : propagation.extract(ROOT_CONTEXT, request.headers);
  const method = request.method ?? 'GET';
  const span = gatewayTracer.startSpan(
    method,
    { kind: SpanKind.SERVER, attributes: { 'http.request.method': method } },
    parent,
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
