// A grpc.health.v1 client: asks a server whether a service is SERVING.
import {
  credentials,
  loadPackageDefinition,
  type ServiceError,
  status as status_,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';

interface HealthClient {
  check(
    request: { service: string },
    options: { deadline: number },
    callback: (error: ServiceError | null, response?: { status: string }) => void,
  ): void;
  close(): void;
}

type HealthClientConstructor = new (
  target: string,
  creds: ReturnType<typeof credentials.createInsecure>,
) => HealthClient;

/** What grpc.health.v1 said of a service, or `unreachable` if it said nothing in time. */
export type HealthStatus = 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN' | 'unreachable';

export interface HealthChecker {
  /** True if `service` ('' for the whole server) answers SERVING within timeoutMs. */
  serving(service: string, timeoutMs: number): Promise<boolean>;
  status(service: string, timeoutMs: number): Promise<HealthStatus>;
  close(): void;
}

export function healthChecker(target: string): HealthChecker {
  const definition = loadPackageDefinition(
    loadSync(healthProtoPath, { enums: String }),
  ) as unknown as {
    grpc: { health: { v1: { Health: HealthClientConstructor } } };
  };
  const client = new definition.grpc.health.v1.Health(target, credentials.createInsecure());
  const status = (service: string, timeoutMs: number) =>
    new Promise<HealthStatus>((resolve) => {
      client.check({ service }, { deadline: Date.now() + timeoutMs }, (error, response) => {
        if (error) resolve(error.code === status_.NOT_FOUND ? 'SERVICE_UNKNOWN' : 'unreachable');
        else resolve(response?.status === 'SERVING' ? 'SERVING' : 'NOT_SERVING');
      });
    });
  return {
    serving: async (service, timeoutMs) => (await status(service, timeoutMs)) === 'SERVING',
    status,
    close: () => client.close(),
  };
}
