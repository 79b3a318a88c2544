// The gateway's gRPC clients: one long-lived channel per service, made as
// every caller makes them (lib/grpc/client.ts: the standard client stack, a
// default deadline on every call, retries for idempotent methods, round-robin
// over every address the target resolves to). The redirect batcher's
// ResolveLinks and the WatchLinkChanges stream go through the same stack.
import { AnalyticsServiceClient, AnalyticsServiceService } from '../gen/shortener/v1/analytics.ts';
import { IdentityServiceClient, IdentityServiceService } from '../gen/shortener/v1/identity.ts';
import { LinkServiceClient, LinkServiceService } from '../gen/shortener/v1/link.ts';
import { connect, promiseClient, type ServiceClient } from '../lib/grpc/client.ts';

export type LinkClient = ServiceClient<typeof LinkServiceService>;
export type IdentityClient = ServiceClient<typeof IdentityServiceService>;
export type AnalyticsClient = ServiceClient<typeof AnalyticsServiceService>;

export interface ServiceClients {
  link: LinkClient;
  identity: IdentityClient;
  analytics: AnalyticsClient;
  close(): void;
}

export function connectServices(options: {
  linkTarget: string;
  identityTarget: string;
  analyticsTarget: string;
  deadlineMs: number;
}): ServiceClients {
  const link = connect(LinkServiceClient, options.linkTarget, options.deadlineMs);
  const identity = connect(IdentityServiceClient, options.identityTarget, options.deadlineMs);
  const analytics = connect(AnalyticsServiceClient, options.analyticsTarget, options.deadlineMs);
  return {
    link: promiseClient(link, LinkServiceService),
    identity: promiseClient(identity, IdentityServiceService),
    analytics: promiseClient(analytics, AnalyticsServiceService),
    close() {
      link.close();
      identity.close();
      analytics.close();
    },
  };
}
