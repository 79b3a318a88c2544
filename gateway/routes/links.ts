// /api/v1/links: shorten, list, look up and delete the caller's links.
import '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Link as LinkMessage } from '../../gen/shortener/v1/link.ts';
import { parseDuration } from '../../lib/config/parsers.ts';
import { DomainError } from '../../lib/errors.ts';
import { BEARER, principalOf } from '../auth.ts';
import { CreateBatcher } from '../create-batcher.ts';
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
      description:
        'When the link stops redirecting as things stand: the earlier of the explicit expiry ' +
        '(if any) and the idle expiry (last access, or creation if never followed, plus the ' +
        'idle period; use and extensions push it out)',
    }),
    explicitExpiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
      description:
        'The expiry date set at creation, as extensions pushed it; null for none. expiresAt is what applies',
    }),
    maxVisits: Type.Union([Type.Integer(), Type.Null()], {
      description: 'The most redirects the link answers; null for no limit',
    }),
    visitsLeft: Type.Union([Type.Integer(), Type.Null()], {
      description: 'Redirects left before it answers 410 visits_exhausted; null when unlimited',
    }),
    lastAccessedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
      description:
        'When it was last followed (may trail the last redirect by LINK_LAST_ACCESS_INTERVAL); null if never',
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
    alias: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        description:
          'Members only: the short code to use instead of a generated one. 3 to 32 of 0-9, A-Z, ' +
          'a-z, _ and - (invalid_alias), case-sensitive, and not a path of this API in any case ' +
          '(alias_reserved). Leave it out for a generated code',
        examples: ['spring-sale'],
      }),
    ),
    maxVisits: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 1_000_000_000,
        description:
          'The most redirects the link answers: the visit that reaches it is the last, however ' +
          'many gateways serve it; later visits answer 410 visits_exhausted. Such a link is always ' +
          'new, under a new code. Leave it out for no limit',
      }),
    ),
  },
  { additionalProperties: false },
);

const ExtendBody = Type.Object(
  {
    by: Type.Optional(
      Type.String({
        pattern: '^[1-9][0-9]{0,5}(ms|s|m|h|d)$',
        description:
          'How far to push the expiry that applies now, e.g. 30d; the default extension ' +
          '(LINK_EXTEND_DEFAULT) when left out, at most LINK_EXTEND_MAX (invalid_extension)',
        examples: ['30d'],
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
const security = BEARER;
const authErrors = {
  401: problemResponse('No bearer token, or it is invalid, revoked or expired'),
  503: problemResponse('A service the gateway depends on is unreachable'),
};

/**
 * What a link instance answers when it refuses a create before storing
 * anything (its Redis is gone: no rate limiter, no confirmed worker id).
 * CreateLink is not retried like the read-only methods, but a create refused
 * so may go once more: at once, as a CreateLink of its own, which round robin
 * sends to the next instance (one that may have its Redis), not with the
 * next turn's batch, which other calls may have moved back to the refusing one.
 */
const REFUSED_BEFORE_STORING = new Set(['no_worker_lease', 'limiter_unavailable']);

async function onAnotherInstanceIfRefused<T>(
  send: () => Promise<T>,
  again: () => Promise<T>,
): Promise<T> {
  try {
    return await send();
  } catch (error) {
    if (error instanceof DomainError && REFUSED_BEFORE_STORING.has(error.code)) return again();
    throw error;
  }
}

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
      explicitExpiresAt: link.explicitExpiresAt ? link.explicitExpiresAt.toISOString() : null,
      maxVisits: link.maxVisits ?? null,
      visitsLeft: link.visitsLeft ?? null,
      lastAccessedAt: link.lastAccessedAt ? link.lastAccessedAt.toISOString() : null,
    };
  };
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  // The creates of one turn of the event loop go to the link service as one call.
  const creates = new CreateBatcher(clients.link);

  api.post(
    '/api/v1/links',
    {
      schema: {
        summary: 'Shorten a URL',
        description:
          'Creates a short link owned by the caller, under a generated code or (members only) an ' +
          'alias. An existing link is returned with 200 instead of 201 only when the request asks ' +
          "for nothing it lacks: without an alias, the caller's live link for the same URL under a " +
          "generated code; with an alias, the caller's live link under that alias with the same " +
          'target and expiry. A URL the caller already shortened gets a new link under an alias, ' +
          'and links made under an alias are never returned for a request without one. Rate ' +
          'limited per caller and per client IP.',
        tags: ['links'],
        security,
        body: CreateBody,
        response: {
          201: { ...LinkRef, description: 'Created' },
          200: { ...LinkRef, description: 'The caller already had the link this request asks for' },
          400: problemResponse('The body, the URL or the alias is not acceptable'),
          403: problemResponse('A guest asked for an alias (alias_members_only)'),
          409: problemResponse(
            'The alias is taken by another link (alias_taken), or a deleted link had it and codes ' +
              "are never issued again (alias_retired); or the guest's links were adopted by a " +
              'member (guest_adopted): log in as the member',
          ),
          413: problemResponse('The body is too large'),
          415: problemResponse('The body is not application/json'),
          429: problemResponse('Rate limited; see Retry-After'),
          ...authErrors,
        },
      },
    },
    async (request, reply) => {
      const expiresAt = request.body.expiresAt ? new Date(request.body.expiresAt) : undefined;
      const create = {
        caller: principalOf(request),
        targetUrl: request.body.targetUrl,
        expiresAt,
        client: callerDetails(request.raw, request.ip),
        alias: request.body.alias ?? '',
        maxVisits: request.body.maxVisits,
      };
      const { link, created } = await onAnotherInstanceIfRefused(
        () => creates.create(create),
        () => clients.link.createLink(create),
      );
      const body = toJson(link);
      reply.code(created ? 201 : 200);
      if (created) reply.header('location', `/api/v1/links/${body.code}`);
      return body;
    },
  );

  api.get(
    '/api/v1/links',
    {
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

  // --- Expiry (docs/decisions/0007-expiry.md) ---
  api.post(
    '/api/v1/links/:code/extend',
    {
      // The service names the amount by_ms; here it is `by`, a duration.
      config: { fieldSpellings: { by_ms: 'by' } },
      schema: {
        summary: 'Push the expiry of one of your links out',
        description:
          'Pushes the expiry that applies now (idle or dated, whichever comes first) out by `by`. ' +
          'The new expiry holds on every gateway at once.',
        tags: ['links'],
        security,
        params: CodeParams,
        body: Type.Union([ExtendBody, Type.Null()]),
        response: {
          200: { ...LinkRef, description: 'The link, expiresAt its new expiry' },
          400: problemResponse('The code or `by` is not acceptable (invalid_extension)'),
          404: problemResponse(
            "No link of yours has this code: none has it, it was deleted, or it is someone else's",
          ),
          410: problemResponse('Too late: the link has expired (link_expired, visits_exhausted)'),
          ...authErrors,
        },
      },
    },
    async (request) => {
      const by = request.body?.by;
      const { link } = await clients.link.extendLink({
        caller: principalOf(request),
        code: request.params.code,
        byMs: by === undefined ? undefined : String(parseDuration(by)),
      });
      near.drop([request.params.code]);
      return toJson(link);
    },
  );

  api.delete(
    '/api/v1/links/:code',
    {
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
      near.drop([request.params.code]);
      return reply.code(204).send(null);
    },
  );
}
