// One place maps domain error kinds to gRPC status codes and back. Trailers
// carry what a status code alone cannot: `error-code` (a stable name for the
// error), `error-field` (the request field at fault, for INVALID_ARGUMENT) and
// `retry-after-ms` (for RESOURCE_EXHAUSTED).
import { Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { DomainError, type ErrorKind } from '../errors.ts';

const TO_STATUS: Record<ErrorKind, status> = {
  invalid: status.INVALID_ARGUMENT,
  unauthenticated: status.UNAUTHENTICATED,
  forbidden: status.PERMISSION_DENIED,
  not_found: status.NOT_FOUND,
  conflict: status.ALREADY_EXISTS,
  expired: status.FAILED_PRECONDITION,
  exhausted: status.RESOURCE_EXHAUSTED,
  unavailable: status.UNAVAILABLE,
  deadline: status.DEADLINE_EXCEEDED,
  internal: status.INTERNAL,
};

const FROM_STATUS = new Map<status, ErrorKind>(
  Object.entries(TO_STATUS).map(([kind, code]) => [code, kind as ErrorKind]),
);

export interface StatusObject {
  code: status;
  details: string;
  metadata: Metadata;
}

export function toStatus(error: DomainError): StatusObject {
  const metadata = new Metadata();
  metadata.set('error-code', error.code);
  if (error.field) metadata.set('error-field', error.field);
  if (error.retryAfterMs !== undefined) {
    metadata.set('retry-after-ms', String(Math.max(0, Math.ceil(error.retryAfterMs))));
  }
  return { code: TO_STATUS[error.kind], details: error.message, metadata };
}

function trailer(error: ServiceError, key: string): string | undefined {
  const value = error.metadata?.get(key)[0];
  return typeof value === 'string' ? value : undefined;
}

/** Turns a failed call's status back into a domain error, keeping its code and retry delay. */
export function fromServiceError(error: ServiceError): DomainError {
  const kind: ErrorKind =
    error.code === status.CANCELLED
      ? 'unavailable'
      : (FROM_STATUS.get(error.code) ??
        (error.code === status.UNKNOWN ? 'internal' : 'unavailable'));
  const retryAfter = trailer(error, 'retry-after-ms');
  const field = trailer(error, 'error-field');
  return new DomainError(kind, error.details || error.message, {
    code: trailer(error, 'error-code') ?? kind,
    ...(field === undefined ? {} : { field }),
    ...(retryAfter === undefined ? {} : { retryAfterMs: Number(retryAfter) }),
    cause: error,
  });
}

export function isServiceError(error: unknown): error is ServiceError {
  return error instanceof Error && typeof (error as Partial<ServiceError>).code === 'number';
}
