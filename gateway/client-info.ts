// What the gateway passes on about the HTTP client: its address (from the
// socket, or X-Forwarded-For behind the configured number of trusted proxies,
// which Fastify resolves into request.ip) and a few headers, bounded in size.
import type { FastifyRequest } from 'fastify';
import type { ClientInfo } from '../gen/shortener/v1/principal.ts';

const MAX_HEADER = 512;

function header(value: string | string[] | undefined): string {
  const text = Array.isArray(value) ? (value[0] ?? '') : (value ?? '');
  return text.length > MAX_HEADER ? text.slice(0, MAX_HEADER) : text;
}

export function clientInfo(request: FastifyRequest): ClientInfo {
  const headers = request.headers;
  return {
    ip: request.ip,
    userAgent: header(headers['user-agent']),
    referer: header(headers.referer),
    acceptLanguage: header(headers['accept-language']),
    traceparent: header(headers.traceparent),
    tracestate: header(headers.tracestate),
  };
}

/** Trust exactly `hops` proxies in front of us: the client is the address before them. */
export function trustHops(hops: number): boolean | ((address: string, hop: number) => boolean) {
  if (hops === 0) return false;
  return (_address, hop) => hop < hops;
}
