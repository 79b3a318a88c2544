// The gateway's gRPC clients: one long-lived channel per service, made as
// every caller makes them (lib/grpc/client.ts: a default deadline on every
// call, round-robin over every address the target resolves to).
import { IdentityServiceClient, IdentityServiceService } from '../gen/shortener/v1/identity.ts';
import { LinkServiceClient, LinkServiceService } from '../gen/shortener/v1/link.ts';
import { connect, type PromiseClient, promiseClient } from '../lib/grpc/client.ts';

export interface ServiceClients {
  link: PromiseClient<LinkServiceClient>;
  /** The generated callback client: the redirect batcher's ResolveLinks (no promise per call) and the WatchLinkChanges stream. */
  rawLink: LinkServiceClient;
  identity: PromiseClient<IdentityServiceClient>;
  close(): void;
}

export function connectServices(options: {
  linkTarget: string;
  identityTarget: string;
  deadlineMs: number;
}): ServiceClients {
  const link = connect(LinkServiceClient, options.linkTarget, options.deadlineMs);
  const identity = connect(IdentityServiceClient, options.identityTarget, options.deadlineMs);
  return {
    link: promiseClient(link, LinkServiceService),
    rawLink: link,
    identity: promiseClient(identity, IdentityServiceService),
    close() {
      link.close();
      identity.close();
    },
  };
}
