// One place maps domain error kinds to gRPC status codes and back. Trailers
// carry what a status code alone cannot: `error-code` (a stable name for the
// error), `error-field` (the request field at fault, for INVALID_ARGUMENT) and
// `retry-after-ms` (for RESOURCE_EXHAUSTED).
import { Metadata, type ServiceError, status } from '@grpc/grpc-js';
import type { ItemError } from '../../gen/shortener/v1/link.ts';
import { DomainError, type ErrorDescription, type ErrorKind } from '../errors.ts';
import { runtimeErrors } from '../runtime-errors.ts';

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

/** What callers are told when the failure did not come from our code (no `error-code`). */
const GENERIC: Partial<Record<ErrorKind, ErrorDescription & { message: string }>> = {
  unavailable: runtimeErrors.unavailable(),
  deadline: runtimeErrors.deadline(),
  internal: runtimeErrors.internal(),
};

/**
 * Turns a failed call's status back into a domain error, keeping its code and
 * retry delay. A status our services did not produce (transport failures,
 * whose details name internal addresses) keeps its text only as the cause.
 */
export function fromServiceError(error: ServiceError): DomainError {
  const kind: ErrorKind =
    error.code === status.CANCELLED
      ? 'unavailable'
      : (FROM_STATUS.get(error.code) ??
        (error.code === status.UNKNOWN ? 'internal' : 'unavailable'));
  const retryAfter = trailer(error, 'retry-after-ms');
  const field = trailer(error, 'error-field');
  const code = trailer(error, 'error-code');
  const generic = GENERIC[kind];
  const message = code === undefined ? (generic?.message ?? kind) : error.details || error.message;
  return new DomainError(kind, message, {
    code: code ?? generic?.code ?? kind,
    ...(field === undefined ? {} : { field }),
    ...(retryAfter === undefined ? {} : { retryAfterMs: Number(retryAfter) }),
    cause: error,
  });
}

/**
 * One item's failure in a batch call (e.g. CreateLinks), as the status and
 * trailers the single call would have failed with. Anything but a domain
 * error is INTERNAL, its details kept out of the answer.
 */
export function toItemError(error: unknown): ItemError {
  const domain = error instanceof DomainError ? error : runtimeErrors.internal();
  const answer = toStatus(domain);
  return {
    status: answer.code,
    message: answer.details,
    errorCode: domain.code,
    errorField: domain.field ?? '',
    retryAfterMs:
      domain.retryAfterMs === undefined
        ? undefined
        : String(Math.max(0, Math.ceil(domain.retryAfterMs))),
  };
}

/** The domain error an item's failure stands for, as fromServiceError reads a failed call's status. */
export function fromItemError(item: ItemError): DomainError {
  const metadata = new Metadata();
  if (item.errorCode) metadata.set('error-code', item.errorCode);
  if (item.errorField) metadata.set('error-field', item.errorField);
  if (item.retryAfterMs !== undefined) metadata.set('retry-after-ms', item.retryAfterMs);
  const failure = Object.assign(new Error(item.message), {
    code: item.status as status,
    details: item.message,
    metadata,
  });
  return fromServiceError(failure);
}
