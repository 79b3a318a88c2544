// Members' accounts: signing up and logging in (adopting the links of the
// guest whose token comes along), who the caller is, closing the account,
// password resets and email verification. Identity decides everything; these
// routes translate.
import '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { MemberSession } from '../../gen/shortener/v1/identity.ts';
import { PrincipalKind } from '../../gen/shortener/v1/principal.ts';
import { BEARER, bearerToken, principalOf } from '../auth.ts';
import type { AuthCache } from '../auth-cache.ts';
import type { ServiceClients } from '../grpc-clients.ts';
import { callerDetails } from '../http-caller.ts';
import { problemResponse } from '../problems.ts';

const Credentials = Type.Object(
  {
    email: Type.String({ description: 'The email: compared trimmed and in lower case' }),
    password: Type.String({
      description: '8 to 128 characters, not one of the commonest passwords',
    }),
  },
  { additionalProperties: false },
);

const Session = Type.Object({
  id: Type.String({ description: 'The member id: a Snowflake id as a decimal string' }),
  kind: Type.Literal('member'),
  email: Type.String({ description: 'The email as stored: trimmed, lower case' }),
  token: Type.String({ description: 'Bearer token for Authorization: Bearer <token>; shown once' }),
  tokenExpiresAt: Type.String({ format: 'date-time' }),
});

const Me = Type.Object({
  id: Type.String({ description: 'Snowflake id of the guest or member' }),
  kind: Type.Union([Type.Literal('guest'), Type.Literal('member')]),
  email: Type.Union([Type.String(), Type.Null()], {
    description: "A member's email; null for a guest",
  }),
  emailVerified: Type.Boolean({ description: 'Whether a member confirmed their email' }),
  createdAt: Type.String({ format: 'date-time' }),
});

const ResetRequest = Type.Object({ email: Type.String() }, { additionalProperties: false });
const ResetConfirmation = Type.Object(
  {
    token: Type.String({ description: 'The token the reset mail carried' }),
    password: Type.String({ description: 'The new password, held to the sign-up rules' }),
  },
  { additionalProperties: false },
);
const TokenOnly = Type.Object(
  { token: Type.String({ description: 'The token the verification mail carried' }) },
  { additionalProperties: false },
);

const security = BEARER;
const unavailable = { 503: problemResponse('The identity service is unreachable') };
const guestTokenNote =
  "Send a guest's token as Authorization: Bearer <token> to adopt every link the guest made; " +
  "a member's token there is ignored.";

function toSession(session: MemberSession | undefined) {
  if (!session?.member || !session.tokenExpiresAt) {
    throw new Error('identity service answered without a member session');
  }
  return {
    id: session.member.id,
    kind: 'member' as const,
    email: session.email,
    token: session.token,
    tokenExpiresAt: session.tokenExpiresAt.toISOString(),
  };
}

/** What sign-up and login pass to identity beside the body: the guest token to adopt, and the client. */
function presented(request: FastifyRequest) {
  return { guestToken: bearerToken(request) ?? '', client: callerDetails(request.raw, request.ip) };
}

export function accountRoutes(
  app: FastifyInstance,
  clients: ServiceClients,
  auth: Pick<AuthCache, 'revoke'>,
): void {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();

  api.post(
    '/api/v1/users',
    {
      schema: {
        summary: 'Sign up',
        description: `Makes a member account and its first session. ${guestTokenNote}`,
        tags: ['accounts'],
        body: Credentials,
        response: {
          201: Session,
          400: problemResponse(
            'A bad email (invalid_email) or password (password_too_short, password_too_long, ' +
              'password_too_common)',
          ),
          401: problemResponse('The guest token presented does not authenticate'),
          409: problemResponse(
            'The email has an account (email_taken), or the guest belongs to one (guest_already_adopted)',
          ),
          429: problemResponse('Too many sign-ups from this address; see Retry-After'),
          ...unavailable,
        },
      },
    },
    async (request, reply) => {
      const { session } = await clients.identity.signUp({
        email: request.body.email,
        password: request.body.password,
        ...presented(request),
      });
      reply.code(201);
      return toSession(session);
    },
  );

  api.post(
    '/api/v1/sessions',
    {
      schema: {
        summary: 'Log in',
        description:
          `Opens a session for a member. An unknown email and a wrong password answer alike. ` +
          `Failed logins are limited per email and per client IP. ${guestTokenNote}`,
        tags: ['accounts'],
        body: Credentials,
        response: {
          201: Session,
          400: problemResponse('The email is not an email address'),
          401: problemResponse(
            'The email and password do not match an account (invalid_credentials)',
          ),
          409: problemResponse('The guest presented belongs to another account'),
          429: problemResponse('Too many failed logins; see Retry-After'),
          ...unavailable,
        },
      },
    },
    async (request, reply) => {
      const { session } = await clients.identity.login({
        email: request.body.email,
        password: request.body.password,
        ...presented(request),
      });
      reply.code(201);
      return toSession(session);
    },
  );

  api.get(
    '/api/v1/me',
    {
      schema: {
        summary: 'Who am I',
        tags: ['accounts'],
        security,
        response: {
          200: Me,
          401: problemResponse('No bearer token, or it is invalid, revoked or expired'),
          404: problemResponse('The account is closed'),
          ...unavailable,
        },
      },
    },
    async (request) => {
      const { user } = await clients.identity.getUser({ caller: principalOf(request) });
      if (!user?.principal || !user.createdAt) throw new Error('identity answered without a user');
      const member = user.principal.kind === PrincipalKind.PRINCIPAL_KIND_MEMBER;
      return {
        id: user.principal.id,
        kind: member ? ('member' as const) : ('guest' as const),
        email: member ? user.email : null,
        emailVerified: user.emailVerified,
        createdAt: user.createdAt.toISOString(),
      };
    },
  );

  api.delete(
    '/api/v1/me',
    {
      schema: {
        summary: 'Close my account',
        description:
          'Every session and API key of the member stops working, the email is freed, and every ' +
          'link of the member is deleted (its code answers 404 and is never issued again).',
        tags: ['accounts'],
        security,
        response: {
          204: Type.Null({ description: 'Closed' }),
          401: problemResponse('No bearer token, or it is invalid, revoked or expired'),
          403: problemResponse('Guests have no account to close (members_only)'),
          ...unavailable,
        },
      },
    },
    async (request, reply) => {
      const caller = principalOf(request);
      await clients.identity.closeAccount({ caller });
      // Every session and key of the account is gone: this gateway forgets them now.
      auth.revoke({ principalId: caller.id });
      return reply.code(204).send(null);
    },
  );

  api.post(
    '/api/v1/password-resets',
    {
      schema: {
        summary: 'Ask for a password reset',
        description:
          'Answers 202 whether or not an account has the email; if one has, a single-use token ' +
          'valid for PASSWORD_RESET_TTL is mailed to it. Rate limited per client IP.',
        tags: ['accounts'],
        body: ResetRequest,
        response: {
          202: Type.Null({ description: 'Accepted' }),
          400: problemResponse('The email is not an email address'),
          429: problemResponse('Too many resets asked from this address; see Retry-After'),
          ...unavailable,
        },
      },
    },
    async (request, reply) => {
      await clients.identity.requestPasswordReset({
        email: request.body.email,
        client: callerDetails(request.raw, request.ip),
      });
      return reply.code(202).send(null);
    },
  );

  api.post(
    '/api/v1/password-resets/confirm',
    {
      schema: {
        summary: 'Set a new password with a reset token',
        description: 'The token is used up and every session of the member is revoked.',
        tags: ['accounts'],
        body: ResetConfirmation,
        response: {
          204: Type.Null({ description: 'The password is changed' }),
          400: problemResponse(
            'The token is unknown, used or expired (invalid_account_token), or the password is not acceptable',
          ),
          ...unavailable,
        },
      },
    },
    async (request, reply) => {
      await clients.identity.confirmPasswordReset(request.body);
      return reply.code(204).send(null);
    },
  );

  api.post(
    '/api/v1/email-verifications/confirm',
    {
      schema: {
        summary: "Confirm a member's email with the token mailed at sign-up",
        tags: ['accounts'],
        body: TokenOnly,
        response: {
          204: Type.Null({ description: 'The email is verified' }),
          400: problemResponse('The token is unknown, used or expired (invalid_account_token)'),
          ...unavailable,
        },
      },
    },
    async (request, reply) => {
      await clients.identity.confirmEmail(request.body);
      return reply.code(204).send(null);
    },
  );
}
