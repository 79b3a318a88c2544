// The gateway's gRPC clients: one long-lived channel per service, a default
// deadline on every call, round-robin over every address the target resolves
// to (so several link replicas behind one DNS name share the load).
import { credentials, loadPackageDefinition, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { IdentityServiceClient, IdentityServiceService } from '../gen/shortener/v1/identity.ts';
import { LinkServiceClient, LinkServiceService } from '../gen/shortener/v1/link.ts';
import {
  CHANNEL_OPTIONS,
  deadlineInterceptor,
  type PromiseClient,
  promiseClient,
} from '../lib/grpc/client.ts';

export interface MeshClients {
  link: PromiseClient<LinkServiceClient>;
  /** The generated callback client: the redirect batcher's ResolveLinks (no promise per call) and the WatchLinkChanges stream. */
  rawLink: LinkServiceClient;
  identity: PromiseClient<IdentityServiceClient>;
  /** grpc.health.v1 Check against the link service: is it there and serving? */
  linkServing(timeoutMs: number): Promise<boolean>;
  close(): void;
}

const SERVICE_CONFIG = JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] });

interface HealthClient {
  check(
    request: { service: string },
    options: { deadline: number },
    callback: (error: ServiceError | null, response?: { status: string }) => void,
  ): void;
  close(): void;
}

function healthClient(target: string): HealthClient {
  const definition = loadPackageDefinition(
    loadSync(healthProtoPath, { enums: String }),
  ) as unknown as {
    grpc: {
      health: {
        v1: {
          Health: new (
            target: string,
            creds: ReturnType<typeof credentials.createInsecure>,
          ) => HealthClient;
        };
      };
    };
  };
  return new definition.grpc.health.v1.Health(target, credentials.createInsecure());
}

export function connectClients(options: {
  linkTarget: string;
  identityTarget: string;
  deadlineMs: number;
}): MeshClients {
  const channelOptions = {
    ...CHANNEL_OPTIONS,
    'grpc.service_config': SERVICE_CONFIG,
    interceptors: [deadlineInterceptor(options.deadlineMs)],
  };
  const link = new LinkServiceClient(
    options.linkTarget,
    credentials.createInsecure(),
    channelOptions,
  );
  const identity = new IdentityServiceClient(
    options.identityTarget,
    credentials.createInsecure(),
    channelOptions,
  );
  const health = healthClient(options.linkTarget);
  return {
    link: promiseClient(link, LinkServiceService),
    rawLink: link,
    identity: promiseClient(identity, IdentityServiceService),
    linkServing: (timeoutMs) =>
      new Promise((resolve) => {
        health.check(
          { service: 'shortener.v1.LinkService' },
          { deadline: Date.now() + timeoutMs },
          (error, response) => resolve(!error && response?.status === 'SERVING'),
        );
      }),
    close() {
      link.close();
      identity.close();
      health.close();
    },
  };
}
