// What the gateway passes on about the HTTP client: its address (from the
// socket, or from X-Forwarded-For behind the configured number of trusted
// proxies) and a few headers, bounded in size. The redirect path, which runs
// on plain node:http, and Fastify's routes resolve the address the same way.
import type { IncomingMessage } from 'node:http';
import proxyAddr from '@fastify/proxy-addr';
import type { Span } from '@opentelemetry/api';
import type { ClientInfo } from '../gen/shortener/v1/principal.ts';
import { traceparentOf } from '../lib/telemetry/tracing.ts';

const MAX_HEADER = 512;

function header(value: string | string[] | undefined): string {
  const text = Array.isArray(value) ? (value[0] ?? '') : (value ?? '');
  return text.length > MAX_HEADER ? text.slice(0, MAX_HEADER) : text;
}

/** Trust exactly `hops` proxies in front of us: the client is the address before them. */
export function trustHops(hops: number): false | ((address: string, hop: number) => boolean) {
  if (hops === 0) return false;
  return (_address, hop) => hop < hops;
}

export type CallerAddress = (request: IncomingMessage) => string;

export function callerAddress(hops: number): CallerAddress {
  const trust = trustHops(hops);
  if (!trust) return (request) => request.socket.remoteAddress ?? '';
  return (request) => proxyAddr.all(request, trust).at(-1) ?? '';
}

/**
 * The trace context passed on is that of the request's own span when it is
 * sampled (work done later for it joins its trace), else the caller's.
 */
export function callerDetails(request: IncomingMessage, ip: string, span?: Span): ClientInfo {
  const headers = request.headers;
  return {
    ip,
    userAgent: header(headers['user-agent']),
    referer: header(headers.referer),
    acceptLanguage: header(headers['accept-language']),
    traceparent: span?.isRecording()
      ? traceparentOf(span.spanContext())
      : header(headers.traceparent),
    tracestate: header(headers.tracestate),
  };
}
