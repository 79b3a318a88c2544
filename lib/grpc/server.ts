// A gRPC server as every service runs it: its own services, grpc.health.v1,
// and server reflection over the real descriptors; shutdown stops taking calls
// and lets in-flight ones finish.
import {
  Server,
  ServerCredentials,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { PackageDefinition } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import type { Logger } from '../log.ts';
import { HEALTH_DESCRIPTOR_SET, loadFileDescriptorProtos } from './descriptors.ts';
import { MAX_MESSAGE_BYTES, tolerant } from './handlers.ts';

export interface ServiceBinding {
  /** Fully qualified name, e.g. shortener.v1.LinkService, for health status. */
  name: string;
  definition: ServiceDefinition;
  implementation: UntypedServiceImplementation;
  /** Called first on shutdown: ends the service's long-lived streams so the server can drain. */
  onShutdown?: () => void;
}

export interface RunningGrpcServer {
  /** host:port actually bound (port 0 resolved). */
  address: string;
  port: number;
  /** Starts serving these services (once): added, in reflection, and SERVING in grpc.health.v1. */
  serve(services: ServiceBinding[]): void;
  /** Stops taking calls, reports NOT_SERVING, waits for in-flight calls up to timeoutMs. */
  shutdown(timeoutMs: number): Promise<void>;
  /**
   * Reports a part of the server's work in grpc.health.v1 under `name` (e.g.
   * `shortener.v1.LinkService:database`), so callers can tell what is degraded.
   */
  setHealth(name: string, serving: boolean): void;
}

function reflectionDefinition() {
  // proto-loader's package-definition shape is all the reflection service
  // reads: the encoded FileDescriptorProtos. Both sets come straight from buf
  // (proto-loader's own descriptors rename files and break imports and maps).
  const files = [...loadFileDescriptorProtos(), ...loadFileDescriptorProtos(HEALTH_DESCRIPTOR_SET)];
  // Only fileDescriptorProtos is read; the entry stands in for proto-loader's.
  const definition = { 'descriptor.set': { format: 'descriptor', fileDescriptorProtos: files } };
  return definition as unknown as PackageDefinition;
}

export async function startGrpcServer(options: {
  listen: string;
  /** Served from the start; or later, through serve(), once the service has started. */
  services?: ServiceBinding[];
  log: Logger;
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
    'grpc.max_connection_age_ms': 15 * 60_000,
    'grpc.max_connection_age_grace_ms': 30_000,
  });
  // Until serve(), the server answers health checks only: NOT_SERVING.
  const health = new HealthImplementation({ '': 'NOT_SERVING' });
  health.addToServer(server);
  let served: ServiceBinding[] | undefined;
  let stopping = false;

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(options.listen, ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  const address = options.listen.replace(/:\d+$/, `:${port}`);

  const running: RunningGrpcServer = {
    address,
    port,
    serve(services) {
      if (served) throw new Error('this server serves its services already');
      served = services;
      for (const service of services) {
        server.addService(tolerant(service.definition), service.implementation);
      }
      new ReflectionService(reflectionDefinition(), {
        services: [...services.map((s) => s.name), 'grpc.health.v1.Health'],
      }).addToServer(server);
      if (stopping) return;
      for (const service of services) health.setStatus(service.name, 'SERVING');
      health.setStatus('', 'SERVING');
      options.log.info({ address, services: services.map((s) => s.name) }, 'gRPC serving');
    },
    setHealth(name, serving) {
      if (!stopping) health.setStatus(name, serving ? 'SERVING' : 'NOT_SERVING');
    },
    async shutdown(timeoutMs) {
      stopping = true;
      health.setStatus('', 'NOT_SERVING');
      for (const service of served ?? []) health.setStatus(service.name, 'NOT_SERVING');
      for (const service of served ?? []) service.onShutdown?.();
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
  if (options.services) running.serve(options.services);
  return running;
}
