// /api/v1/api-keys: a member's named API keys, which authenticate like a
// session until revoked. Guests have none (403 members_only).
import '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { ApiKey as ApiKeyMessage } from '../../gen/shortener/v1/identity.ts';
import { isSnowflake } from '../../lib/ids/snowflake.ts';
import { BEARER, principalOf } from '../auth.ts';
import type { AuthCache } from '../auth-cache.ts';
import { gatewayErrors } from '../errors.ts';
import type { ServiceClients } from '../grpc-clients.ts';
import { problemResponse } from '../problems.ts';

const ApiKey = Type.Object({
  id: Type.String({ description: 'Snowflake id of the key (a decimal string)' }),
  name: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  lastUsedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
    description: 'When it last authenticated a request (to within a minute); null if never',
  }),
});

const NewKey = Type.Object({
  id: Type.String(),
  name: Type.String(),
  key: Type.String({ description: 'The key, for Authorization: Bearer <key>; shown once' }),
  createdAt: Type.String({ format: 'date-time' }),
});

const CreateBody = Type.Object(
  { name: Type.String({ description: 'What you call the key: 1 to 100 characters' }) },
  { additionalProperties: false },
);
const IdParams = Type.Object({ id: Type.String({ description: 'The key id' }) });

const security = BEARER;
const errors = {
  401: problemResponse('No bearer token, or it is invalid, revoked or expired'),
  403: problemResponse('Guests have no API keys (members_only)'),
  503: problemResponse('The identity service is unreachable'),
};

function toJson(key: ApiKeyMessage | undefined) {
  if (!key?.createdAt) throw new Error('identity answered an API key without its creation time');
  return {
    id: key.id,
    name: key.name,
    createdAt: key.createdAt.toISOString(),
    lastUsedAt: key.lastUsedAt ? key.lastUsedAt.toISOString() : null,
  };
}

export function apiKeyRoutes(
  app: FastifyInstance,
  clients: ServiceClients,
  auth: Pick<AuthCache, 'revoke'>,
): void {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();

  api.post(
    '/api/v1/api-keys',
    {
      schema: {
        summary: 'Make an API key',
        description: 'The key works wherever a session token does, until it is revoked.',
        tags: ['api-keys'],
        security,
        body: CreateBody,
        response: {
          201: NewKey,
          400: problemResponse('The name is empty or too long (invalid_api_key_name)'),
          409: problemResponse('All the live keys allowed exist already (too_many_api_keys)'),
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const made = await clients.identity.createApiKey({
        caller: principalOf(request),
        name: request.body.name,
      });
      const { id, name, createdAt } = toJson(made.apiKey);
      reply.code(201);
      return { id, name, key: made.key, createdAt };
    },
  );

  api.get(
    '/api/v1/api-keys',
    {
      schema: {
        summary: 'List your API keys',
        description: 'Live keys, newest first, without their secrets.',
        tags: ['api-keys'],
        security,
        response: { 200: Type.Object({ apiKeys: Type.Array(ApiKey) }), ...errors },
      },
    },
    async (request) => {
      const { apiKeys } = await clients.identity.listApiKeys({ caller: principalOf(request) });
      return { apiKeys: apiKeys.map(toJson) };
    },
  );

  api.delete(
    '/api/v1/api-keys/:id',
    {
      schema: {
        summary: 'Revoke an API key',
        tags: ['api-keys'],
        security,
        params: IdParams,
        response: {
          204: Type.Null({ description: 'Revoked: the key authenticates no more' }),
          400: problemResponse('The id is not an API key id'),
          404: problemResponse("No live key of yours has this id, also for someone else's"),
          ...errors,
        },
      },
    },
    async (request, reply) => {
      // An id that is no int64 could not even be sent.
      if (!isSnowflake(request.params.id)) {
        throw gatewayErrors.invalid_request(
          { message: 'id is not an API key id' },
          { field: 'id' },
        );
      }
      const caller = principalOf(request);
      await clients.identity.revokeApiKey({ caller, id: request.params.id });
      // The key's hash is not known here: forget what this gateway holds for the member.
      auth.revoke({ principalId: caller.id });
      return reply.code(204).send(null);
    },
  );
}
