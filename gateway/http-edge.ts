// The HTTP edge below Fastify: what one connection may cost, and the answers
// to requests no route can take (an over-long URI, an HTTP/1.1 request without
// Host, bytes node:http cannot parse, a request that never finishes). It runs
// for every request, the redirect path included, so on the way through it
// allocates nothing and makes no closure.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { gatewayErrors } from './errors.ts';
import { PROBLEM_TYPE, type ProblemBody, problemFromDomain } from './problems.ts';
import { traceHeaders } from './server-spans.ts';

/** The longest request target served (RFC 9110 asks servers for at least 8000). */
export const MAX_URI_BYTES = 8_192;

/**
 * Unanswered requests one connection may have queued: past PAUSE_AT the
 * gateway stops reading it until its answers catch up; past CLOSE_AT (one
 * read can carry thousands of pipelined requests) it closes it, for such a
 * client is not reading its answers. Either way one connection costs a
 * bounded amount of memory and time, and other connections are served.
 */
export const PAUSE_AT = 64;
export const CLOSE_AT = 1_024;
const RESUME_AT = PAUSE_AT / 2;

const UNANSWERED: unique symbol = Symbol('unanswered requests');
const PAUSED: unique symbol = Symbol('paused by the edge');

/**
 * A socket as node:http keeps it. `_paused` and `parser` are node:http's own
 * way of not reading a connection whose written answers pile up; the edge
 * pauses the same way, so node:http does not resume it behind the edge's back.
 */
interface HttpSocket extends Socket {
  _paused?: boolean;
  _httpMessage?: { headersSent: boolean } | null;
  parser?: { pause(): void; resume(): void } | null;
  [UNANSWERED]?: number;
  [PAUSED]?: boolean;
}

/**
 * node:http resumes a paused connection as soon as its own reason to pause is
 * gone (some answer got written), which may be long before the edge's is:
 * then the edge pauses it again before anything is read.
 */
function holdPause(this: HttpSocket): void {
  if (this[PAUSED] !== true || this._paused === true || this.destroyed) return;
  this._paused = true;
  this.pause();
}

function answered(this: ServerResponse): void {
  const socket = this.req.socket as HttpSocket;
  const left = (socket[UNANSWERED] ?? 1) - 1;
  socket[UNANSWERED] = left;
  if (left > RESUME_AT || socket[PAUSED] !== true) return;
  socket[PAUSED] = false;
  // node:http may have paused it too, for answers written but not yet read.
  if (socket._paused !== true || socket.destroyed || socket.writableNeedDrain) return;
  socket._paused = false;
  socket.parser?.resume();
  socket.resume();
}

/** Counts the request against its connection; false if it is not to be served. */
function admit(request: IncomingMessage, response: ServerResponse): boolean {
  const socket = request.socket as HttpSocket;
  if (socket.destroyed) return false;
  const unanswered = (socket[UNANSWERED] ?? 0) + 1;
  socket[UNANSWERED] = unanswered;
  response.on('close', answered);
  if (unanswered > CLOSE_AT) {
    socket.destroy();
    return false;
  }
  if (unanswered > PAUSE_AT && socket[PAUSED] !== true) {
    // Once per connection: from then on every resume is checked.
    if (socket[PAUSED] === undefined) socket.on('resume', holdPause);
    socket[PAUSED] = true;
    if (socket._paused !== true) {
      // As node:http does: it pauses the parser too once this read is parsed.
      socket._paused = true;
      socket.pause();
    }
  }
  return true;
}

function hasHost(rawHeaders: string[]): boolean {
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.length === 4 && (name === 'Host' || name === 'host' || name.toLowerCase() === 'host'))
      return true;
  }
  return false;
}

const URI_TOO_LONG = problemFromDomain(
  gatewayErrors.uri_too_long({ maxBytes: MAX_URI_BYTES }),
  414,
);
const MISSING_HOST = problemFromDomain(gatewayErrors.missing_host());
// ASCII only, so their lengths are their sizes in bytes.
const URI_TOO_LONG_JSON = JSON.stringify(URI_TOO_LONG);
const MISSING_HOST_JSON = JSON.stringify(MISSING_HOST);

function refuse(response: ServerResponse, status: number, body: string): void {
  response
    .writeHead(
      status,
      traceHeaders(response, {
        'content-type': PROBLEM_TYPE,
        'content-length': String(body.length),
        'cache-control': 'no-store',
        connection: 'close',
      }),
    )
    .end(body);
}

/**
 * Lets a request through to the redirect path and Fastify, or answers it here:
 * its connection is closed (too far ahead of its answers), its target is too
 * long (414), or it is HTTP/1.1 without Host (400). True if it goes on.
 */
export function passEdge(request: IncomingMessage, response: ServerResponse): boolean {
  if (!admit(request, response)) return false;
  if ((request.url ?? '').length > MAX_URI_BYTES) {
    refuse(response, 414, URI_TOO_LONG_JSON);
    return false;
  }
  if (
    request.httpVersionMinor === 1 &&
    request.httpVersionMajor === 1 &&
    !hasHost(request.rawHeaders)
  ) {
    refuse(response, 400, MISSING_HOST_JSON);
    return false;
  }
  return true;
}

/** The start of a request line: a method, then the target. */
const REQUEST_LINE_START = /^[A-Z]+ \S/;

/**
 * Whether a head that overflowed the limit did so in its request line:
 * node:http says only "overflow", but its error holds the read and where in it
 * parsing stopped. If no line of the request had ended there, the first one,
 * the request line, is to blame; otherwise a header field is. A read that
 * begins in the middle of a head tells nothing: a header field, then.
 */
function overflowedInRequestLine(packet: unknown, at: unknown): boolean {
  if (!Buffer.isBuffer(packet) || typeof at !== 'number') return false;
  const text = packet.toString('latin1', 0, Math.min(at, packet.length));
  const previous = text.lastIndexOf('\r\n\r\n');
  const current = previous < 0 ? text : text.slice(previous + 4);
  return !current.includes('\r\n') && (previous >= 0 || REQUEST_LINE_START.test(current));
}

/** The problem for a request node:http could not take (it never reached a route). */
export function clientErrorProblem(
  error: Error & { code?: string; rawPacket?: unknown; bytesParsed?: unknown },
): ProblemBody {
  switch (error.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return problemFromDomain(gatewayErrors.request_timeout(), 408);
    case 'HPE_HEADER_OVERFLOW':
      return overflowedInRequestLine(error.rawPacket, error.bytesParsed)
        ? URI_TOO_LONG
        : problemFromDomain(gatewayErrors.headers_too_large(error), 431);
    default:
      return problemFromDomain(gatewayErrors.malformed_request(error));
  }
}

/**
 * Whether the socket can still take an answer: it is writable and no answer
 * has begun on it (writing one now would corrupt that one).
 */
export function canAnswer(socket: Socket): boolean {
  const message = (socket as HttpSocket)._httpMessage;
  return socket.writable && !message?.headersSent;
}
