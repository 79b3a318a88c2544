// Handler adapters every service's gRPC handlers use: promise-returning
// functions in, grpc-js callbacks out, with undecodable requests answered
// INVALID_ARGUMENT (grpc-js alone would say INTERNAL), calls whose deadline has
// already passed refused, and domain errors mapped to status codes once.
import type {
  handleServerStreamingCall,
  handleUnaryCall,
  ServerErrorResponse,
  ServerUnaryCall,
  ServiceDefinition,
} from '@grpc/grpc-js';
import { isDomainError } from '../errors.ts';
import { type Logger, ThrottledLog } from '../log.ts';
import { runtimeErrors } from '../runtime-errors.ts';
import { toStatus } from './status.ts';

/** Stands in for a request whose bytes did not decode. */
const MALFORMED: unique symbol = Symbol('malformed request');

export interface CallContext {
  /** Absolute deadline (ms since epoch) the caller set; Infinity if none. */
  deadline: number;
  /** Path of the method, for logs. */
  method: string;
}

export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

function contextOf(call: ServerUnaryCall<unknown, unknown>, method: string): CallContext {
  const deadline = call.getDeadline();
  return {
    deadline: deadline instanceof Date ? deadline.getTime() : Number(deadline),
    method,
  };
}

/** One throttle per service logger: an outage fails every call, one line a while says so. */
const repeatsByLog = new WeakMap<Logger, ThrottledLog>();

function toServerError(error: unknown, log: Logger, method: string): Partial<ServerErrorResponse> {
  let repeats = repeatsByLog.get(log);
  if (!repeats) {
    repeats = new ThrottledLog(log);
    repeatsByLog.set(log, repeats);
  }
  if (isDomainError(error)) {
    if (error.kind === 'internal') log.error({ err: error, method }, 'call failed');
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
    return toStatus(error);
  }
  log.error({ err: error, method }, 'unexpected error in handler');
  return toStatus(runtimeErrors.internal());
}

export type UnaryHandler<Req, Res> = (request: Req, context: CallContext) => Promise<Res>;

/** Adapts a promise-returning handler: decode check, deadline context, error mapping. */
export function unary<Req, Res>(
  method: string,
  log: Logger,
  handler: UnaryHandler<Req, Res>,
): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    if ((call.request as unknown) === MALFORMED) {
      callback(toStatus(runtimeErrors.malformed_message()));
      return;
    }
    const context = contextOf(call, method);
    // The caller has given up already: doing the work would only load the
    // service when it is most likely overloaded.
    if (context.deadline <= Date.now()) {
      callback(toStatus(runtimeErrors.deadline_passed()));
      return;
    }
    handler(call.request, context).then(
      (response) => callback(null, response),
      (error: unknown) => callback(toServerError(error, log, method)),
    );
  };
}

/** Adapts a server-streaming handler; it owns the call until it ends it. */
export function serverStream<Req, Res>(
  method: string,
  log: Logger,
  handler: (call: Parameters<handleServerStreamingCall<Req, Res>>[0]) => void,
): handleServerStreamingCall<Req, Res> {
  return (call) => {
    if ((call.request as unknown) === MALFORMED) {
      const malformed = runtimeErrors.malformed_message();
      call.destroy(Object.assign(new Error(malformed.message), toStatus(malformed)));
      return;
    }
    try {
      handler(call);
    } catch (error) {
      const e = toServerError(error, log, method);
      call.destroy(Object.assign(new Error(e.details ?? 'internal error'), e));
    }
  };
}

/** Copies a service definition so undecodable requests reach the handler as MALFORMED. */
export function tolerant(definition: ServiceDefinition): ServiceDefinition {
  const copy: Record<string, ServiceDefinition[string]> = {};
  for (const [name, method] of Object.entries(definition)) {
    const decode = method.requestDeserialize;
    copy[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return decode(bytes);
        } catch {
          return MALFORMED;
        }
      },
    };
  }
  return copy as ServiceDefinition;
}
