// Domain errors are values with a kind. Each edge maps the kind once: the gRPC
// handlers to a status code, the gateway to an HTTP status and problem type.

export type ErrorKind =
  | 'invalid'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'expired'
  | 'exhausted'
  | 'unavailable'
  | 'deadline'
  | 'internal';

export interface DomainErrorOptions {
  /** Stable machine-readable name, e.g. `invalid_url`; defaults to the kind. */
  code?: string;
  /** For `exhausted`: how long until a retry may succeed. */
  retryAfterMs?: number;
  /** For `invalid`: the offending field. */
  field?: string;
  cause?: unknown;
}

export class DomainError extends Error {
  readonly kind: ErrorKind;
  readonly code: string;
  readonly retryAfterMs: number | undefined;
  readonly field: string | undefined;

  constructor(kind: ErrorKind, message: string, options: DomainErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DomainError';
    this.kind = kind;
    this.code = options.code ?? kind;
    this.retryAfterMs = options.retryAfterMs;
    this.field = options.field;
  }
}

export const invalid = (message: string, code = 'invalid_argument', field?: string) =>
  new DomainError('invalid', message, { code, ...(field ? { field } : {}) });
export const unauthenticated = (message = 'authentication required', code = 'unauthenticated') =>
  new DomainError('unauthenticated', message, { code });
export const forbidden = (message: string, code = 'forbidden') =>
  new DomainError('forbidden', message, { code });
export const notFound = (message: string, code = 'not_found') =>
  new DomainError('not_found', message, { code });
export const expired = (message: string, code = 'expired') =>
  new DomainError('expired', message, { code });
export const exhausted = (message: string, retryAfterMs: number, code = 'rate_limited') =>
  new DomainError('exhausted', message, { code, retryAfterMs });
export const unavailable = (message: string, cause?: unknown, code = 'unavailable') =>
  new DomainError('unavailable', message, { code, cause });

export function isDomainError(error: unknown): error is DomainError {
  return error instanceof DomainError;
}
