// IdentityService over gRPC: decode, call the domain, encode.
import {
  type IdentityServiceServer,
  IdentityServiceService,
} from '../../gen/shortener/v1/identity.ts';
import {
  PrincipalKind,
  type Principal as PrincipalMessage,
} from '../../gen/shortener/v1/principal.ts';
import { unary } from '../../lib/grpc/handlers.ts';
import type { ServiceBinding } from '../../lib/grpc/server.ts';
import type { Logger } from '../../lib/log.ts';
import { authenticate, revokeToken } from './domain/authentication.ts';
import { type GuestDeps, issueGuest } from './domain/guests.ts';
import type { Principal } from './domain/principal.ts';

function toMessage(principal: Principal): PrincipalMessage {
  return {
    id: principal.id,
    kind:
      principal.kind === 'member'
        ? PrincipalKind.PRINCIPAL_KIND_MEMBER
        : PrincipalKind.PRINCIPAL_KIND_GUEST,
  };
}

export function identityServiceBinding(deps: GuestDeps, log: Logger): ServiceBinding {
  const implementation: IdentityServiceServer = {
    issueGuest: unary('IssueGuest', log, async (request) => {
      const issued = await issueGuest(deps, request.client?.ip ?? '');
      return {
        guest: toMessage(issued.guest),
        token: issued.token,
        tokenExpiresAt: issued.tokenExpiresAt,
      };
    }),
    authenticate: unary('Authenticate', log, async (request) => ({
      principal: toMessage(await authenticate(deps, request.token)),
    })),
    revokeToken: unary('RevokeToken', log, async (request) => {
      await revokeToken(deps, request.token);
      return {};
    }),
  };
  return {
    name: 'shortener.v1.IdentityService',
    definition: IdentityServiceService,
    implementation,
  };
}
