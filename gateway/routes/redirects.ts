// GET /:code (and HEAD): the product. A near-cache hit answers at once; anything
// else joins this turn's ResolveLinks batch. No JSON parsing, no logging, no
// closure per request on this path.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { CODE_PATTERN, isReserved } from '../../lib/codes.ts';
import { clientInfo } from '../client-info.ts';
import type { NearCache } from '../near-cache.ts';
import { problemResponse } from '../problems.ts';
import type { RedirectBatcher } from '../redirect-batcher.ts';
import { sendExpired, sendNotFound, sendRedirect } from '../redirect-replies.ts';

const Params = Type.Object({
  code: Type.String({ description: 'The short code (case-sensitive)' }),
});

export function redirectRoutes(
  app: FastifyInstance,
  near: NearCache,
  batcher: RedirectBatcher,
): void {
  function redirect(
    request: FastifyRequest<{ Params: { code: string } }>,
    reply: FastifyReply,
  ): void {
    const code = request.params.code;
    if (!CODE_PATTERN.test(code) || isReserved(code)) {
      sendNotFound(reply);
      return;
    }
    const hit = near.get(code);
    if (hit === undefined) {
      batcher.add({ code, client: clientInfo(request), head: request.method === 'HEAD' }, reply);
    } else if (hit.expiresAt !== null && hit.expiresAt <= Date.now()) {
      sendExpired(reply);
    } else {
      sendRedirect(reply, hit.targetUrl);
    }
  }

  app.route({
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
        404: problemResponse('No link has this code, or it was deleted'),
        410: problemResponse('The link has expired'),
        503: problemResponse('The link service is unreachable'),
      },
    },
    handler: redirect,
  });
}
