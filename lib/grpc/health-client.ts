// A grpc.health.v1 client: asks a server whether a service is SERVING. Its
// calls go through the standard client stack like every other.
import { type Client, loadPackageDefinition, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import type { DomainError } from '../errors.ts';
import { connect, promiseClient } from './client.ts';

/** The one method used, as proto-loader defines it. */
type HealthDefinition = {
  Check: {
    path: string;
    requestStream: false;
    responseStream: false;
    requestSerialize: (value: { service: string }) => Buffer;
    responseDeserialize: (bytes: Buffer) => { status: string };
  };
};

/** What grpc.health.v1 said of a service, or `unreachable` if it said nothing in time. */
export type HealthStatus = 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN' | 'unreachable';

export interface HealthChecker {
  /** True if `service` ('' for the whole server) answers SERVING within timeoutMs. */
  serving(service: string, timeoutMs: number): Promise<boolean>;
  status(service: string, timeoutMs: number): Promise<HealthStatus>;
  close(): void;
}

/** Fallback deadline; every check sets its own. */
const CHECK_DEADLINE_MS = 2_000;

export function healthChecker(target: string): HealthChecker {
  const definition = loadPackageDefinition(
    loadSync(healthProtoPath, { enums: String }),
  ) as unknown as {
    grpc: { health: { v1: { Health: ServiceClientConstructor } } };
  };
  const Health = definition.grpc.health.v1.Health;
  const client: Client = connect(Health, target, CHECK_DEADLINE_MS);
  const health = promiseClient(client, Health.service as unknown as HealthDefinition);
  const status = (service: string, timeoutMs: number): Promise<HealthStatus> =>
    health.Check({ service }, { deadline: Date.now() + timeoutMs }).then(
      (response) => (response.status === 'SERVING' ? 'SERVING' : 'NOT_SERVING'),
      (error: DomainError) => (error.kind === 'not_found' ? 'SERVICE_UNKNOWN' : 'unreachable'),
    );
  return {
    serving: async (service, timeoutMs) => (await status(service, timeoutMs)) === 'SERVING',
    status,
    close: () => client.close(),
  };
}
