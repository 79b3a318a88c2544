// The gateway's HTTP application: Fastify with schemas on every route (they
// validate, serialise and become the OpenAPI document), problem details for
// every error, bounded bodies and headers, and the client IP taken from the
// socket unless the configured number of trusted proxies sits in front.
import { createServer } from 'node:http';
import type { Socket } from 'node:net';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from '../lib/log.ts';
import type { GatewayConfig } from './config.ts';
import { gatewayErrors } from './errors.ts';
import type { ServiceClients } from './grpc-clients.ts';
import { trustHops } from './http-caller.ts';
import type { NearCache } from './near-cache.ts';
import { errorHandler, PROBLEM_TYPE, Problem, problemFromDomain, sendProblem } from './problems.ts';
import type { ReadinessProbe } from './readiness.ts';
import type { RedirectPath } from './redirect-path.ts';
import { healthRoutes } from './routes/health.ts';
import { identityRoutes } from './routes/identity.ts';
import { LinkJson, linkRoutes } from './routes/links.ts';
import { redirectRoutes } from './routes/redirects.ts';

export interface GatewayParts {
  config: GatewayConfig;
  log: Logger;
  clients: ServiceClients;
  near: NearCache;
  redirects: RedirectPath;
  readiness: ReadinessProbe;
  state: { accepting: boolean };
}

/** Requests that never reach Fastify (headers too large, garbage) still get a problem. */
function clientError(error: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
  const refused =
    status === 431
      ? gatewayErrors.headers_too_large(error)
      : gatewayErrors.malformed_request(error);
  const body = JSON.stringify(problemFromDomain(refused, status));
  socket.end(
    `HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
      `Content-Type: ${PROBLEM_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

export async function buildApp(parts: GatewayParts): Promise<FastifyInstance> {
  const { config, log, clients } = parts;
  const app = Fastify({
    // Plain redirects are answered before Fastify sees them (redirect-path.ts).
    serverFactory: (handler) => {
      const server = createServer(
        { maxHeaderSize: config.headerLimitBytes },
        (request, response) => {
          if (!parts.redirects.tryServe(request, response)) handler(request, response);
        },
      );
      server.keepAliveTimeout = 72_000;
      server.requestTimeout = 30_000;
      return server;
    },
    logger: false,
    trustProxy: trustHops(config.trustedProxies),
    bodyLimit: config.bodyLimitBytes,
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    clientErrorHandler: clientError,
    ajv: { customOptions: { removeAdditional: false } },
  });
  // JSON only: a text/plain body is refused as 415 rather than parsed as a string.
  app.removeContentTypeParser('text/plain');
  app.decorateRequest('principal', null);
  app.decorateRequest('bearerToken', null);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Shortener mesh',
        version: '1.0.0',
        description:
          'Short links: guests and members shorten URLs; GET /{code} redirects. Errors are RFC 9457 ' +
          'problem details (application/problem+json) with a stable `type` and `code` per error.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'Token from POST /api/v1/guests' },
        },
      },
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`),
    },
  });
  app.addSchema(Problem);
  app.addSchema(LinkJson);
  app.setErrorHandler(errorHandler(log));
  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      reply,
      problemFromDomain(
        gatewayErrors.not_found({ method: request.method, path: request.url.split('?')[0] ?? '' }),
      ),
    ),
  );

  healthRoutes(app, parts.readiness, parts.state);
  identityRoutes(app, clients);
  linkRoutes(app, clients, config.publicBaseUrl, parts.near);
  redirectRoutes(app, parts.redirects);
  app.get(
    '/api/v1/openapi.json',
    { schema: { summary: 'This API as an OpenAPI 3.1 document', tags: ['operations'] } },
    async () => app.swagger(),
  );
  return app;
}
