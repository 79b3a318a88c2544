// /api/v1/guests and /api/v1/sessions: getting and giving up an identity.
import '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { PrincipalKind } from '../../gen/shortener/v1/principal.ts';
import { bearerTokenHash } from '../../lib/auth/revocations.ts';
import { BEARER } from '../auth.ts';
import type { AuthCache } from '../auth-cache.ts';
import type { ServiceClients } from '../grpc-clients.ts';
import { callerDetails } from '../http-caller.ts';
import { problemResponse } from '../problems.ts';

const Guest = Type.Object({
  id: Type.String({ description: 'The guest id: a Snowflake id as a decimal string' }),
  kind: Type.Literal('guest'),
  token: Type.String({ description: 'Bearer token for Authorization: Bearer <token>; shown once' }),
  tokenExpiresAt: Type.String({ format: 'date-time' }),
});

export function identityRoutes(
  app: FastifyInstance,
  clients: ServiceClients,
  auth: Pick<AuthCache, 'revoke'>,
): void {
  app.post(
    '/api/v1/guests',
    {
      schema: {
        summary: 'Become a guest',
        description:
          'Issues a guest identity and its bearer token, for shortening without an account. ' +
          'Rate limited per client IP.',
        tags: ['identity'],
        response: {
          201: Guest,
          429: problemResponse('Too many guests from this address; see Retry-After'),
          503: problemResponse('The identity service is unreachable'),
        },
      },
    },
    async (request, reply) => {
      const issued = await clients.identity.issueGuest({
        client: callerDetails(request.raw, request.ip),
      });
      if (
        !issued.guest ||
        issued.guest.kind !== PrincipalKind.PRINCIPAL_KIND_GUEST ||
        !issued.tokenExpiresAt
      ) {
        throw new Error('identity service answered without a guest or its token expiry');
      }
      reply.code(201);
      return {
        id: issued.guest.id,
        kind: 'guest' as const,
        token: issued.token,
        tokenExpiresAt: issued.tokenExpiresAt.toISOString(),
      };
    },
  );

  app.delete(
    '/api/v1/sessions/current',
    {
      schema: {
        summary: 'Revoke the token this request carries',
        tags: ['identity'],
        security: BEARER,
        response: {
          204: Type.Null({ description: 'Revoked: the token authenticates no more' }),
          401: problemResponse('No bearer token, or it is already invalid'),
          503: problemResponse('The identity service is unreachable'),
        },
      },
    },
    async (request, reply) => {
      const token = request.bearerToken ?? '';
      await clients.identity.revokeToken({ token });
      // This gateway forgets it now: the broadcast reaches the others, and this one later.
      auth.revoke({ tokenHash: bearerTokenHash(token) });
      return reply.code(204).send();
    },
  );
}
