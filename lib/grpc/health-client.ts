// A grpc.health.v1 client: asks a server whether a service is SERVING.
import { credentials, loadPackageDefinition, type ServiceError } from '@grpc/grpc-js';
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

export interface HealthChecker {
  /** True if `service` ('' for the whole server) answers SERVING within timeoutMs. */
  serving(service: string, timeoutMs: number): Promise<boolean>;
  close(): void;
}

export function healthChecker(target: string): HealthChecker {
  const definition = loadPackageDefinition(
    loadSync(healthProtoPath, { enums: String }),
  ) as unknown as {
    grpc: { health: { v1: { Health: HealthClientConstructor } } };
  };
  const client = new definition.grpc.health.v1.Health(target, credentials.createInsecure());
  return {
    serving: (service, timeoutMs) =>
      new Promise((resolve) => {
        client.check({ service }, { deadline: Date.now() + timeoutMs }, (error, response) =>
          resolve(!error && response?.status === 'SERVING'),
        );
      }),
    close: () => client.close(),
  };
}
