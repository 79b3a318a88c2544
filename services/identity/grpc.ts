// IdentityService over gRPC: decode, call the domain, encode.
import {
  type ApiKey as ApiKeyMessage,
  type IdentityServiceServer,
  IdentityServiceService,
  type MemberSession as SessionMessage,
} from '../../gen/shortener/v1/identity.ts';
import { callerOf, principalOf } from '../../lib/callers.ts';
import { unary } from '../../lib/grpc/handlers.ts';
import type { ServiceBinding } from '../../lib/grpc/server.ts';
import type { Logger } from '../../lib/log.ts';
import {
  confirmEmail,
  confirmPasswordReset,
  requestPasswordReset,
} from './domain/account-tokens.ts';
import { type ApiKey, createApiKey, listApiKeys, revokeApiKey } from './domain/api-keys.ts';
import { authentication, revokeToken } from './domain/authentication.ts';
import { type GuestDeps, issueGuest } from './domain/guests.ts';
import {
  closeAccount,
  getUser,
  login,
  type MemberDeps,
  type MemberSession,
  memberContact,
  signUp,
} from './domain/members.ts';

export interface IdentityHandlerDeps {
  guests: GuestDeps;
  members: MemberDeps;
}

function toSession(session: MemberSession): SessionMessage {
  return {
    member: principalOf(session.member),
    email: session.email,
    token: session.token,
    tokenExpiresAt: session.tokenExpiresAt,
  };
}

function toApiKey(key: ApiKey): ApiKeyMessage {
  return {
    id: key.id,
    name: key.name,
    createdAt: key.createdAt,
    lastUsedAt: key.lastUsedAt ?? undefined,
  };
}

export function identityServiceBinding(deps: IdentityHandlerDeps, log: Logger): ServiceBinding {
  const { guests, members } = deps;
  const implementation: IdentityServiceServer = {
    issueGuest: unary('IssueGuest', log, async (request) => {
      const issued = await issueGuest(guests, request.client?.ip ?? '');
      return {
        guest: principalOf(issued.guest),
        token: issued.token,
        tokenExpiresAt: issued.tokenExpiresAt,
      };
    }),
    authenticate: unary('Authenticate', log, async (request) => {
      const { principal, expiresAt } = await authentication(members, request.token);
      return { principal: principalOf(principal), expiresAt: expiresAt ?? undefined };
    }),
    revokeToken: unary('RevokeToken', log, async (request) => {
      await revokeToken(members, request.token);
      return {};
    }),

    signUp: unary('SignUp', log, async (request) => ({
      session: toSession(
        await signUp(members, {
          email: request.email,
          password: request.password,
          guestToken: request.guestToken,
          clientIp: request.client?.ip ?? '',
        }),
      ),
    })),
    login: unary('Login', log, async (request) => ({
      session: toSession(
        await login(members, {
          email: request.email,
          password: request.password,
          guestToken: request.guestToken,
          clientIp: request.client?.ip ?? '',
        }),
      ),
    })),
    getUser: unary('GetUser', log, async (request) => {
      const user = await getUser(members, callerOf(request.caller));
      return {
        user: {
          principal: principalOf(user.principal),
          email: user.email ?? '',
          emailVerified: user.emailVerified,
          createdAt: user.createdAt,
        },
      };
    }),
    closeAccount: unary('CloseAccount', log, async (request) => {
      await closeAccount(members, callerOf(request.caller));
      return {};
    }),

    createApiKey: unary('CreateApiKey', log, async (request) => {
      const made = await createApiKey(members, callerOf(request.caller), request.name);
      return { apiKey: toApiKey(made.apiKey), key: made.key };
    }),
    listApiKeys: unary('ListApiKeys', log, async (request) => ({
      apiKeys: (await listApiKeys(members, callerOf(request.caller))).map(toApiKey),
    })),
    revokeApiKey: unary('RevokeApiKey', log, async (request) => {
      await revokeApiKey(members, callerOf(request.caller), request.id);
      return {};
    }),

    requestPasswordReset: unary('RequestPasswordReset', log, async (request) => {
      await requestPasswordReset(members, request.email, request.client?.ip ?? '');
      return {};
    }),
    confirmPasswordReset: unary('ConfirmPasswordReset', log, async (request) => {
      await confirmPasswordReset(members, request.token, request.password);
      return {};
    }),
    confirmEmail: unary('ConfirmEmail', log, async (request) => {
      await confirmEmail(members, request.token);
      return {};
    }),

    getMemberContact: unary('GetMemberContact', log, async (request) =>
      memberContact(members, request.userId),
    ),
  };
  return {
    name: 'shortener.v1.IdentityService',
    definition: IdentityServiceService,
    implementation,
  };
}
