// The middleware every service's handlers run through, composed in one place.
// Outermost first:
//   (tracing: next, here, so it sees every call and its final status)
//   measureCalls   per service, method and status code: count and duration (when metrics are bound)
//   mapErrors      anything thrown becomes a gRPC status, domain kinds mapped once
//   logFailures    internal errors logged, unavailable ones throttled
//   checkDecoded   undecodable requests are INVALID_ARGUMENT (grpc-js alone says INTERNAL)
//   refuseExpired  a call whose deadline has passed is not started
//   bindCallScope  stores and Redis calls made by the handler see the call's signal
import type { ServerErrorResponse } from '@grpc/grpc-js';
import { withCallSignal } from '../call-scope.ts';
import { type DomainError, isDomainError } from '../errors.ts';
import { type Logger, ThrottledLog } from '../log.ts';
import type { Metrics } from '../metrics/metrics.ts';
import { runtimeErrors } from '../runtime-errors.ts';
import type { ServerMiddleware } from './middleware.ts';
import { toStatus } from './status.ts';

/** Stands in for a request whose bytes did not decode (see tolerant() in handlers.ts). */
export const MALFORMED: unique symbol = Symbol('malformed request');

/** What mapErrors throws: an error grpc-js sends as the call's status. */
export type StatusError = Error & Partial<ServerErrorResponse>;

function statusError(error: DomainError): StatusError {
  const status = toStatus(error);
  return Object.assign(new Error(status.details), status);
}

export const mapErrors: ServerMiddleware = (call, context, next) =>
  next(call, context).catch((error: unknown) => {
    throw statusError(isDomainError(error) ? error : runtimeErrors.internal());
  });

/**
 * Tells a failure of `method` (a call, or one item of a batch call): internal
 * errors logged, unavailable ones throttled, one throttle per logger, so an
 * outage that fails every call says so one line a while.
 */
export function failureReporter(log: Logger): (method: string, error: unknown) => void {
  const repeats = new ThrottledLog(log);
  return (method, error) => {
    if (!isDomainError(error)) log.error({ err: error, method }, 'unexpected error in handler');
    else if (error.kind === 'internal') log.error({ err: error, method }, 'call failed');
    else if (error.kind === 'unavailable') {
      repeats.warn(
        `${method}:${error.code}`,
        {
          method,
          code: error.code,
          cause: error.cause instanceof Error ? error.cause.message : undefined,
        },
        `call failed: ${error.message}`,
      );
    }
  };
}

export function logFailures(log: Logger): ServerMiddleware {
  const report = failureReporter(log);
  return (call, context, next) =>
    next(call, context).catch((error: unknown) => {
      report(call.method, error);
      throw error;
    });
}

export const checkDecoded: ServerMiddleware = async (call, context, next) => {
  if (call.request === MALFORMED) {
    throw runtimeErrors.malformed_message();
  }
  return next(call, context);
};

export const refuseExpired: ServerMiddleware = async (call, context, next) => {
  // The caller has given up already: doing the work would only load the
  // service when it is most likely overloaded.
  if (context.deadline <= Date.now()) {
    throw runtimeErrors.deadline_passed();
  }
  return next(call, context);
};

export const bindCallScope: ServerMiddleware = (call, context, next) =>
  withCallSignal(context.signal, () => next(call, context), context.deadline);

/** `/shortener.v1.LinkService/ResolveLinks` → its service and method. */
function serviceOf(path: string): string {
  const end = path.lastIndexOf('/');
  return end > 0 ? path.slice(1, end) : 'unknown';
}

/** Outside mapErrors: it sees the status code the caller gets. */
export function measureCalls(metrics: Metrics): ServerMiddleware {
  return async (call, context, next) => {
    const started = performance.now();
    let code = 0;
    try {
      return await next(call, context);
    } catch (error) {
      code = (error as StatusError).code ?? 2;
      throw error;
    } finally {
      metrics.rpcServerDuration.observe(
        {
          rpc_service: serviceOf(call.raw.getPath()),
          rpc_method: call.method,
          rpc_grpc_status_code: code,
        },
        (performance.now() - started) / 1_000,
      );
    }
  };
}

/** The default stack for a service logging to `log`, measured into `metrics` if given. */
export function defaultServerStack(log: Logger, metrics?: Metrics): readonly ServerMiddleware[] {
  return [
    // Tracing middleware goes first here.
    ...(metrics ? [measureCalls(metrics)] : []),
    mapErrors,
    logFailures(log),
    checkDecoded,
    refuseExpired,
    bindCallScope,
  ];
}
