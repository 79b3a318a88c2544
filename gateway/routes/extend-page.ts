// The one-click extend page of an expiry notice (docs/decisions/0007-expiry.md):
// GET /extend?token=… shows the link's extend button, whose form POSTs the
// token to /extend; the link service checks the token's signature and
// extends. No login: the signed token is the permission. A GET never extends
// (mail scanners follow links). A forged, expired or used token gets a page
// that says so, with the status of its error.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { type DomainError, isDomainError } from '../../lib/errors.ts';
import type { ServiceClients } from '../grpc-clients.ts';
import { HTTP_BY_KIND } from '../problems.ts';

const html = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex"><title>${html(title)}</title></head><body><main><h1>${html(title)}</h1>${body}</main></body></html>`;
}

const HTML = 'text/html; charset=utf-8';
/** The token must not leak to the target or other sites. */
const HEADERS = {
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'none'; form-action 'self'; frame-ancestors 'none'",
};

const WHY: Record<string, string> = {
  invalid_extend_token: 'This extend link is not valid: it may have been cut short or altered.',
  extend_token_expired: 'This extend link has expired, and so has the link it was for.',
  extend_token_used: 'This link was extended or used since the notice was sent: nothing to do.',
  link_expired: 'The link has already expired.',
  visits_exhausted: 'The link has used up its visits.',
  link_not_found: 'The link no longer exists.',
};

function sendPage(reply: FastifyReply, status: number, title: string, body: string) {
  return reply.code(status).headers(HEADERS).type(HTML).send(page(title, body));
}

function sendError(reply: FastifyReply, error: DomainError) {
  const why = WHY[error.code] ?? 'The link could not be extended now; try again later.';
  return sendPage(
    reply,
    HTTP_BY_KIND[error.kind].status,
    'Could not extend the link',
    `<p>${html(why)}</p>`,
  );
}

/** A missing or malformed token is a clear page too, not a JSON problem. */
function malformed(_error: unknown, _request: unknown, reply: FastifyReply) {
  return sendPage(
    reply,
    400,
    'Could not extend the link',
    `<p>${html(WHY.invalid_extend_token as string)}</p>`,
  );
}

const Token = Type.String({ minLength: 1, maxLength: 256, description: 'The token of the notice' });

export function extendPageRoutes(app: FastifyInstance, clients: ServiceClients): void {
  app.register(async (scope) => {
    // The page's form posts urlencoded; only here.
    scope.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: 1_024 },
      (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
    );

    scope.get<{ Querystring: { token: string } }>(
      '/extend',
      {
        schema: {
          summary: 'The one-click extend page of an expiry notice',
          description:
            'An HTML page with one button that extends the link the token names (by POST /extend). ' +
            'Opening it changes nothing.',
          tags: ['expiry'],
          querystring: Type.Object({ token: Token }),
          produces: ['text/html'],
        },
        errorHandler: malformed,
      },
      async (request, reply) =>
        sendPage(
          reply,
          200,
          'Keep your short link',
          `<p>Your short link will expire soon. Extend it by one click:</p><form method="post" action="/extend"><input type="hidden" name="token" value="${html(request.query.token)}"><button type="submit">Extend the link</button></form>`,
        ),
    );

    scope.post<{ Body: { token: string } }>(
      '/extend',
      {
        schema: {
          summary: 'Extend a link by the token of its expiry notice',
          description:
            "The extend page's form: extends the link by the default extension, once. Answers an " +
            'HTML page: 200 extended; 400 forged or malformed token; 409 already extended or used; ' +
            '410 the token or the link has expired; 404 the link is gone.',
          tags: ['expiry'],
          consumes: ['application/x-www-form-urlencoded'],
          body: Type.Object({ token: Token }),
          produces: ['text/html'],
        },
        errorHandler: malformed,
      },
      async (request, reply) => {
        try {
          const extended = await clients.link.extendLinkByToken({ token: request.body.token });
          const until = extended.expiresAt?.toISOString().slice(0, 10) ?? '';
          return sendPage(
            reply,
            200,
            'Link extended',
            `<p>The link <code>${html(extended.code)}</code> now expires on ${html(until)} (UTC) unless it is used again before.</p>`,
          );
        } catch (error) {
          if (isDomainError(error)) return sendError(reply, error);
          throw error;
        }
      },
    );
  });
}
