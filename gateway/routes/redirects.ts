// GET /:code (and HEAD) as Fastify sees it: documented here, and reached only
// by requests the redirect path does not take on plain node:http (a query
// string, a reserved word). It hands them back to the same path.
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { problemResponse } from '../problems.ts';
import type { RedirectPath } from '../redirect-path.ts';

const Params = Type.Object({
  code: Type.String({ description: 'The short code (case-sensitive)' }),
});

export function redirectRoutes(app: FastifyInstance, path: RedirectPath): void {
  app.route<{ Params: { code: string } }>({
    method: ['GET', 'HEAD'],
    url: '/:code',
    schema: {
      summary: 'Follow a short link',
      description:
        'Redirects to the link target with 302. The answer carries Cache-Control: no-store so that ' +
        'every click reaches the service. HEAD answers the same without counting a click.',
      tags: ['redirects'],
      params: Params,
      response: {
        302: Type.Null({ description: 'Redirect; the Location header holds the target URL' }),
        404: problemResponse('No link has this code, or it was deleted or purged'),
        410: problemResponse(
          'The link has expired (link_expired) or used up its visits (visits_exhausted)',
        ),
        503: problemResponse(
          'The link cannot be resolved now; `code` names the cause (e.g. database_unavailable). See Retry-After',
        ),
      },
    },
    handler(request, reply) {
      reply.hijack();
      path.serve(request.params.code, request.raw, reply.raw);
    },
  });
}
