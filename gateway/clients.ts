// The gateway's gRPC clients: one long-lived channel per service, a default
// deadline on every call, round-robin over every address the target resolves
// to (so several link replicas behind one DNS name share the load).
import { credentials } from '@grpc/grpc-js';
import { IdentityServiceClient, IdentityServiceService } from '../gen/shortener/v1/identity.ts';
import { LinkServiceClient, LinkServiceService } from '../gen/shortener/v1/link.ts';
import {
  CHANNEL_OPTIONS,
  deadlineInterceptor,
  type PromiseClient,
  promiseClient,
} from '../lib/grpc/client.ts';
import { healthChecker } from '../lib/grpc/health-client.ts';

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
  const health = healthChecker(options.linkTarget);
  return {
    link: promiseClient(link, LinkServiceService),
    rawLink: link,
    identity: promiseClient(identity, IdentityServiceService),
    linkServing: (timeoutMs) => health.serving('shortener.v1.LinkService', timeoutMs),
    close() {
      link.close();
      identity.close();
      health.close();
    },
  };
}
