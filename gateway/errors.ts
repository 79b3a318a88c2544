// The errors the gateway answers with itself, beside those the services send
// (which it passes on with their codes) and the shared runtime's
// (lib/runtime-errors.ts). Fields are named as the JSON API spells them.
import { defineErrors } from '../lib/errors.ts';

/** A message the HTTP layer (Fastify, node:http) wrote; passed on as it is. */
const asGiven = (given: { message: string }) => given.message;

export const gatewayErrors = defineErrors({
  missing_token: {
    kind: 'unauthenticated',
    message:
      'send Authorization: Bearer <token>; POST /api/v1/guests issues one, as do sign-up and login',
  },
  /** No route: not a short link (those answer link_not_found), not an API path. */
  not_found: {
    kind: 'not_found',
    message: (route: { method: string; path: string }) =>
      `no route for ${route.method} ${route.path}`,
  },
  /** The body or query failed its schema; the occurrence names the field. */
  invalid_request: { kind: 'invalid', message: asGiven },
  malformed_request: { kind: 'invalid', message: asGiven },
  malformed_url: {
    kind: 'invalid',
    message: 'the request path holds malformed percent encoding',
  },
  missing_host: { kind: 'invalid', message: 'an HTTP/1.1 request must carry a Host header' },
  /** Answered 414. */
  uri_too_long: {
    kind: 'invalid',
    message: (limit: { maxBytes: number }) =>
      `the request target is longer than ${limit.maxBytes} bytes`,
  },
  /** Answered 408: the client did not finish sending its request in time. */
  request_timeout: { kind: 'invalid', message: 'the request did not arrive in time' },
  /** Answered 405, with Allow. */
  method_not_allowed: {
    kind: 'invalid',
    message: (asked: { path: string; allow: string[]; method: string }) =>
      `${asked.path} answers ${asked.allow.join(', ')}, not ${asked.method}`,
  },
  payload_too_large: { kind: 'invalid', message: asGiven },
  unsupported_media_type: { kind: 'invalid', message: asGiven },
  headers_too_large: { kind: 'invalid', message: asGiven },
  shutting_down: { kind: 'unavailable', message: 'the gateway is shutting down' },
  /** Readiness: the link service does not answer its health check. */
  link_unavailable: { kind: 'unavailable', message: 'the link service is not serving' },
});
