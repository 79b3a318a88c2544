// /api/v1/links: shorten, list, look up and delete the caller's links.
import '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Link as LinkMessage } from '../../gen/shortener/v1/link.ts';
import { principalOf, requireCaller } from '../auth.ts';
import type { ServiceClients } from '../grpc-clients.ts';
import { callerDetails } from '../http-caller.ts';
import type { NearCache } from '../near-cache.ts';
import { problemResponse } from '../problems.ts';

export const LinkJson = Type.Object(
  {
    id: Type.String({ description: 'Snowflake id (64-bit, as a decimal string)' }),
    code: Type.String({ description: 'The short code (case-sensitive)' }),
    shortUrl: Type.String({ description: 'The short link to hand out' }),
    targetUrl: Type.String({ description: 'Where the short link redirects' }),
    ownerId: Type.String({ description: 'Id of the guest or member who owns the link' }),
    createdAt: Type.String({ format: 'date-time' }),
    expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
      description: 'When the link stops redirecting; null if never by date',
    }),
  },
  { $id: 'Link' },
);

const CreateBody = Type.Object(
  {
    targetUrl: Type.String({
      description: 'Absolute http(s) URL to shorten; no credentials, no private addresses',
      examples: ['https://example.com/some/long/path?with=query'],
    }),
    expiresAt: Type.Optional(
      Type.String({
        format: 'date-time',
        maxLength: 64,
        description:
          'Optional expiry; must be in the future and before 9999-01-01T00:00:00Z (every store ' +
          'must hold it); leave it out for a link that never expires by date',
      }),
    ),
  },
  { additionalProperties: false },
);

const CodeParams = Type.Object({ code: Type.String({ description: 'The short code' }) });

const ListQuery = Type.Object(
  {
    pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
    pageToken: Type.Optional(
      Type.String({ maxLength: 64, description: 'nextPageToken of the previous page, as it was' }),
    ),
  },
  { additionalProperties: false },
);

const LinkRef = { $ref: 'Link#' };
const security = [{ bearer: [] }];
const authErrors = {
  401: problemResponse('No bearer token, or it is invalid, revoked or expired'),
  503: problemResponse('A service the gateway depends on is unreachable'),
};

export function linkRoutes(
  app: FastifyInstance,
  clients: ServiceClients,
  publicBaseUrl: string,
  near: NearCache,
): void {
  const required = <T>(value: T | undefined, field: string): T => {
    if (value === undefined) throw new Error(`link service answered a link without ${field}`);
    return value;
  };
  const toJson = (link: LinkMessage | undefined) => {
    if (!link) throw new Error('link service answered without a link');
    return {
      id: link.id,
      code: link.code,
      shortUrl: `${publicBaseUrl}/${link.code}`,
      targetUrl: link.targetUrl,
      ownerId: link.ownerId,
      createdAt: required(link.createdAt, 'createdAt').toISOString(),
      expiresAt: link.expiresAt ? link.expiresAt.toISOString() : null,
    };
  };
  const preHandler = requireCaller(clients);
  const api = app.withTypeProvider<TypeBoxTypeProvider>();

  api.post(
    '/api/v1/links',
    {
      preHandler,
      schema: {
        summary: 'Shorten a URL',
        description:
          'Creates a short link owned by the caller. Shortening a URL the caller already has a live ' +
          'link for returns that link with 200 instead of 201. Rate limited per caller and per client IP.',
        tags: ['links'],
        security,
        body: CreateBody,
        response: {
          201: { ...LinkRef, description: 'Created' },
          200: { ...LinkRef, description: 'The caller already had a live link for this URL' },
          400: problemResponse('The body or the URL is not acceptable'),
          413: problemResponse('The body is too large'),
          409: problemResponse(
            "The guest's links were adopted by a member (guest_adopted): log in as the member",
          ),
          415: problemResponse('The body is not application/json'),
          429: problemResponse('Rate limited; see Retry-After'),
          ...authErrors,
        },
      },
    },
    async (request, reply) => {
      const expiresAt = request.body.expiresAt ? new Date(request.body.expiresAt) : undefined;
      const { link, created } = await clients.link.createLink({
        caller: principalOf(request),
        targetUrl: request.body.targetUrl,
        expiresAt,
        client: callerDetails(request.raw, request.ip),
      });
      const body = toJson(link);
      reply.code(created ? 201 : 200);
      if (created) reply.header('location', `/api/v1/links/${body.code}`);
      return body;
    },
  );

  api.get(
    '/api/v1/links',
    {
      preHandler,
      schema: {
        summary: "List the caller's links",
        description: 'Newest first, deleted links left out, a page at a time.',
        tags: ['links'],
        security,
        querystring: ListQuery,
        response: {
          200: Type.Object({
            links: Type.Array(LinkRef),
            nextPageToken: Type.Union([Type.String(), Type.Null()], {
              description: 'Pass as pageToken for the next page; null on the last page',
            }),
          }),
          400: problemResponse('A query parameter is not acceptable'),
          ...authErrors,
        },
      },
    },
    async (request) => {
      const page = await clients.link.listLinks({
        caller: principalOf(request),
        pageSize: request.query.pageSize ?? 20,
        pageToken: request.query.pageToken ?? '',
      });
      return { links: page.links.map(toJson), nextPageToken: page.nextPageToken || null };
    },
  );

  api.get(
    '/api/v1/links/:code',
    {
      preHandler,
      schema: {
        summary: 'Get one of your links',
        tags: ['links'],
        security,
        params: CodeParams,
        response: {
          200: LinkRef,
          400: problemResponse('The code is malformed'),
          404: problemResponse(
            "No link of yours has this code: none has it, it was deleted, or it is someone else's",
          ),
          ...authErrors,
        },
      },
    },
    async (request) => {
      const { link } = await clients.link.getLink({
        caller: principalOf(request),
        code: request.params.code,
      });
      return toJson(link);
    },
  );

  api.delete(
    '/api/v1/links/:code',
    {
      preHandler,
      schema: {
        summary: 'Delete one of your links',
        description:
          'The short link stops redirecting at once, everywhere, and its code is never issued again.',
        tags: ['links'],
        security,
        params: CodeParams,
        response: {
          204: Type.Null({ description: 'Deleted' }),
          400: problemResponse('The code is malformed'),
          404: problemResponse(
            "No link of yours has this code: none has it, it was already deleted, or it is someone else's",
          ),
          ...authErrors,
        },
      },
    },
    async (request, reply) => {
      await clients.link.deleteLink({ caller: principalOf(request), code: request.params.code });
      // Every gateway hears of it within a second; this one knows now.
      near.invalidate([request.params.code]);
      return reply.code(204).send(null);
    },
  );
}
