// A gRPC server as every service runs it: its own services, grpc.health.v1,
// and server reflection over the real descriptors; requests that do not decode
// are answered INVALID_ARGUMENT (grpc-js alone would say INTERNAL); shutdown
// stops taking calls and lets in-flight ones finish.
import {
  type handleServerStreamingCall,
  type handleUnaryCall,
  Server,
  ServerCredentials,
  type ServerErrorResponse,
  type ServerUnaryCall,
  type ServiceDefinition,
  status,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import { DomainError, isDomainError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { HEALTH_DESCRIPTOR_SET, loadFileDescriptorProtos } from './descriptors.ts';
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

/** When each (method, error code) was last logged: an outage fails every call, one line says so. */
const lastLogged = new Map<string, number>();
const LOG_EVERY_MS = 10_000;

function logThrottled(log: Logger, error: DomainError, method: string): void {
  const key = `${method}:${error.code}`;
  const now = Date.now();
  if (now - (lastLogged.get(key) ?? 0) < LOG_EVERY_MS) return;
  lastLogged.set(key, now);
  log.warn(
    {
      method,
      code: error.code,
      cause: error.cause instanceof Error ? error.cause.message : undefined,
    },
    `call failed: ${error.message} (repeats are not logged for ${LOG_EVERY_MS / 1_000} s)`,
  );
}

function toServerError(error: unknown, log: Logger, method: string): Partial<ServerErrorResponse> {
  if (isDomainError(error)) {
    if (error.kind === 'internal') log.error({ err: error, method }, 'call failed');
    else if (error.kind === 'unavailable') logThrottled(log, error, method);
    return toStatus(error);
  }
  log.error({ err: error, method }, 'unexpected error in handler');
  return toStatus(new DomainError('internal', 'internal error', { code: 'internal' }));
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
      callback({
        code: status.INVALID_ARGUMENT,
        details: 'request is not a valid protobuf message',
      });
      return;
    }
    handler(call.request, contextOf(call, method)).then(
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
      call.destroy(
        Object.assign(new Error('request is not a valid protobuf message'), {
          code: status.INVALID_ARGUMENT,
        }),
      );
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
function tolerant(definition: ServiceDefinition): ServiceDefinition {
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

export interface ServiceBinding {
  /** Fully qualified name, e.g. shortener.v1.LinkService, for health status. */
  name: string;
  definition: ServiceDefinition;
  implementation: UntypedServiceImplementation;
}

export interface RunningGrpcServer {
  /** host:port actually bound (port 0 resolved). */
  address: string;
  port: number;
  /** Stops taking calls, reports NOT_SERVING, waits for in-flight calls up to timeoutMs. */
  shutdown(timeoutMs: number): Promise<void>;
}

function reflectionDefinition() {
  // proto-loader's package-definition shape is all the reflection service
  // reads: the encoded FileDescriptorProtos. Both sets come straight from buf
  // (proto-loader's own descriptors rename files and break imports and maps).
  const files = [...loadFileDescriptorProtos(), ...loadFileDescriptorProtos(HEALTH_DESCRIPTOR_SET)];
  return { 'descriptor.set': { format: 'descriptor', fileDescriptorProtos: files } } as never;
}

export async function startGrpcServer(options: {
  listen: string;
  services: ServiceBinding[];
  log: Logger;
  /** Called first on shutdown, e.g. to end long-lived streams. */
  onShutdown?: () => void;
}): Promise<RunningGrpcServer> {
  const server = new Server({
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 10_000,
    // Clients resolve DNS again only when a connection ends: ageing connections
    // out lets callers discover replicas added since they connected. Calls in
    // flight get the grace period; long-lived streams are re-opened by callers.
    'grpc.max_connection_age_ms': 5 * 60_000,
    'grpc.max_connection_age_grace_ms': 30_000,
  });
  const health = new HealthImplementation({ '': 'SERVING' });
  for (const service of options.services) {
    server.addService(tolerant(service.definition), service.implementation);
    health.setStatus(service.name, 'SERVING');
  }
  health.addToServer(server);
  new ReflectionService(reflectionDefinition(), {
    services: [...options.services.map((s) => s.name), 'grpc.health.v1.Health'],
  }).addToServer(server);

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(options.listen, ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  const address = options.listen.replace(/:\d+$/, `:${port}`);
  options.log.info({ address, services: options.services.map((s) => s.name) }, 'gRPC listening');

  return {
    address,
    port,
    async shutdown(timeoutMs) {
      health.setStatus('', 'NOT_SERVING');
      for (const service of options.services) health.setStatus(service.name, 'NOT_SERVING');
      options.onShutdown?.();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          options.log.warn('in-flight calls did not finish in time; cancelling them');
          server.forceShutdown();
          resolve();
        }, timeoutMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}
