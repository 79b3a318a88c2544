// Every error at the HTTP edge is an RFC 9457 problem: application/problem+json
// with a stable `type` per error (`/problems/<code>`), the HTTP status, a human
// `title` and `detail`, and the same `code` as a member for clients that
// switch on it. Domain error kinds map to statuses here and nowhere else; the
// code is the one the error was raised with, by a service or by the gateway
// (gateway/errors.ts), never one the gateway makes up in its place.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { type DomainError, type ErrorKind, isDomainError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import { runtimeErrors } from '../lib/runtime-errors.ts';
import { gatewayErrors } from './errors.ts';

export const PROBLEM_TYPE = 'application/problem+json';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Fields a route's query spells otherwise than the camelCase of the
     * proto's name (a stats range is `from`/`to`, the proto's
     * `from_date`/`to_date`): proto name → JSON name.
     */
    fieldSpellings?: Readonly<Record<string, string>>;
  }
}

/**
 * Each kind's HTTP status, and the Retry-After a client gets when the error
 * itself names no delay: what is unavailable now is worth asking again soon.
 */
export const HTTP_BY_KIND: Readonly<
  Record<ErrorKind, { status: number; retryAfterSeconds?: number }>
> = {
  invalid: { status: 400 },
  unauthenticated: { status: 401 },
  forbidden: { status: 403 },
  not_found: { status: 404 },
  conflict: { status: 409 },
  expired: { status: 410 },
  exhausted: { status: 429 },
  internal: { status: 500 },
  unavailable: { status: 503, retryAfterSeconds: 1 },
  deadline: { status: 504 },
};

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export const Problem = Type.Object(
  {
    type: Type.String({ description: 'Stable identifier of the error: /problems/<code>' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String({ description: 'Stable machine-readable name, e.g. link_expired' }),
    field: Type.Optional(Type.String({ description: 'The request field at fault, if any' })),
    retryAfterSeconds: Type.Optional(Type.Integer()),
    checks: Type.Optional(
      Type.Record(Type.String(), Type.String(), {
        description: 'For readiness: the state of each dependency',
      }),
    ),
  },
  { $id: 'Problem', description: 'RFC 9457 problem details' },
);

/** A response schema entry for an error status, pointing at the shared Problem schema. */
export function problemResponse(description: string) {
  return { description, content: { [PROBLEM_TYPE]: { schema: { $ref: 'Problem#' } } } };
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  field?: string;
  retryAfterSeconds?: number;
  checks?: Record<string, string>;
}

function problem(status: number, code: string, detail: string, field?: string): ProblemBody {
  return {
    type: `/problems/${code}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    code,
    ...(field ? { field } : {}),
  };
}

/** Domain field names (snake_case, as in the protos) as the JSON API spells them. */
function jsonField(field: string): string {
  return field.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

/**
 * The problem an error stands for. `status` is for the few errors whose HTTP
 * status the HTTP layer has already decided more precisely than their kind
 * says (413, 415, 431 are all `invalid`).
 */
export function problemFromDomain(
  error: DomainError,
  status = HTTP_BY_KIND[error.kind].status,
  spellings: Readonly<Record<string, string>> = {},
): ProblemBody {
  const field = error.field ? (spellings[error.field] ?? jsonField(error.field)) : undefined;
  let detail = error.kind === 'internal' ? 'internal error' : error.message;
  // The services name fields as the protos do; the JSON API as it spells them.
  if (error.field && field) detail = detail.replaceAll(error.field, field);
  for (const [proto, json] of Object.entries(spellings)) detail = detail.replaceAll(proto, json);
  const body = problem(status, error.code, detail, field);
  if (error.retryAfterMs !== undefined)
    body.retryAfterSeconds = Math.max(1, Math.ceil(error.retryAfterMs / 1_000));
  else if (HTTP_BY_KIND[error.kind].retryAfterSeconds !== undefined)
    body.retryAfterSeconds = HTTP_BY_KIND[error.kind].retryAfterSeconds;
  return body;
}

export function sendProblem(reply: FastifyReply, body: ProblemBody): FastifyReply {
  if (body.retryAfterSeconds !== undefined)
    reply.header('retry-after', String(body.retryAfterSeconds));
  if (body.status === 401) reply.header('www-authenticate', 'Bearer');
  return reply.code(body.status).type(PROBLEM_TYPE).send(body);
}

/** Fastify's own errors (validation, body parsing and limits) and ours, as problems. */
export function errorHandler(log: Logger) {
  return (
    error: FastifyError | DomainError | Error,
    request: FastifyRequest,
    reply: FastifyReply,
  ) => {
    if (isDomainError(error)) {
      if (error.kind === 'internal') log.error({ err: error, url: request.url }, 'internal error');
      const spellings = request.routeOptions.config?.fieldSpellings;
      return sendProblem(reply, problemFromDomain(error, undefined, spellings));
    }
    const fastifyError = error as FastifyError;
    if (fastifyError.validation) {
      const first = fastifyError.validation[0];
      const field = first?.instancePath
        ? first.instancePath.replace(/^\//, '').replace(/\//g, '.')
        : undefined;
      const missing = (first?.params as { missingProperty?: string } | undefined)?.missingProperty;
      const at = missing ?? field;
      const invalid = gatewayErrors.invalid_request(fastifyError, at ? { field: at } : {});
      return sendProblem(reply, problemFromDomain(invalid));
    }
    const status = fastifyError.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const refused =
        status === 413
          ? gatewayErrors.payload_too_large(fastifyError)
          : status === 415
            ? gatewayErrors.unsupported_media_type(fastifyError)
            : status === 404
              ? gatewayErrors.not_found({
                  method: request.method,
                  path: request.url.split('?')[0] ?? '',
                })
              : gatewayErrors.malformed_request(fastifyError);
      return sendProblem(reply, problemFromDomain(refused, status));
    }
    log.error({ err: error, url: request.url }, 'unhandled error');
    return sendProblem(reply, problemFromDomain(runtimeErrors.internal({ cause: error })));
  };
}
