// The gateway's HTTP application: Fastify with schemas on every route (they
// validate, serialise and become the OpenAPI document), problem details for
// every error, bounded bodies and headers, and the client IP taken from the
// socket unless the configured number of trusted proxies sits in front.
import { createServer } from 'node:http';
import type { Socket } from 'node:net';
import swagger from '@fastify/swagger';
import { context } from '@opentelemetry/api';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from '../lib/log.ts';
import type { Metrics } from '../lib/metrics/metrics.ts';
import { telemetry } from '../lib/telemetry/tracing.ts';
import { authenticateDeclaredRoutes } from './auth.ts';
import type { AuthCache } from './auth-cache.ts';
import type { GatewayConfig } from './config.ts';
import { gatewayErrors } from './errors.ts';
import type { ServiceClients } from './grpc-clients.ts';
import { trustHops } from './http-caller.ts';
import { canAnswer, clientErrorProblem, passEdge } from './http-edge.ts';
import type { NearCache } from './near-cache.ts';
import { errorHandler, PROBLEM_TYPE, Problem, problemFromDomain, sendProblem } from './problems.ts';
import type { ReadinessProbe } from './readiness.ts';
import type { RedirectPath } from './redirect-path.ts';
import { RouteMethods } from './route-methods.ts';
import { accountPageRoutes } from './routes/account-pages.ts';
import { accountRoutes } from './routes/accounts.ts';
import { analyticsRoutes } from './routes/analytics.ts';
import { apiKeyRoutes } from './routes/api-keys.ts';
import { extendPageRoutes } from './routes/extend-page.ts';
import { type GatewayState, healthRoutes } from './routes/health.ts';
import { identityRoutes } from './routes/identity.ts';
import { LinkJson, linkRoutes } from './routes/links.ts';
import { redirectRoutes } from './routes/redirects.ts';
import { nameServerSpan, serverContext, setTraceHeader, startServerSpan } from './server-spans.ts';

export interface GatewayParts {
  config: GatewayConfig;
  log: Logger;
  clients: ServiceClients;
  near: NearCache;
  auth: AuthCache;
  redirects: RedirectPath;
  readiness: ReadinessProbe;
  state: GatewayState;
  metrics: Metrics;
}

/** Requests that never reach Fastify (a head too large, garbage, too slow) still get a problem. */
function clientError(error: Error & { code?: string; rawPacket?: unknown }, socket: Socket): void {
  if (!canAnswer(socket)) {
    socket.destroy();
    return;
  }
  const body = clientErrorProblem(error);
  const json = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${body.status} ${body.title}\r\n` +
      `Content-Type: ${PROBLEM_TYPE}\r\nContent-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`,
  );
}

/** Checks for request timeouts this often: a timed-out request is answered within it. */
function checkingInterval(requestTimeoutMs: number): number {
  return Math.max(50, Math.min(1_000, Math.floor(requestTimeoutMs / 2)));
}

export async function buildApp(parts: GatewayParts): Promise<FastifyInstance> {
  const { config, log, clients } = parts;
  const app = Fastify({
    // Plain redirects are answered before Fastify sees them (redirect-path.ts).
    serverFactory: (handler) => {
      const timeout = config.requestTimeoutMs;
      const server = createServer(
        {
          maxHeaderSize: config.headerLimitBytes,
          // Checked in passEdge, so that the answer is a problem, not an empty 400.
          requireHostHeader: false,
          requestTimeout: timeout,
          headersTimeout: timeout,
          connectionsCheckingInterval: checkingInterval(timeout),
        },
        (request, response) => {
          if (!telemetry.tracing) {
            if (!passEdge(request, response)) return;
            if (!parts.redirects.tryServe(request, response)) handler(request, response);
            return;
          }
          const span = startServerSpan(request, response);
          if (!passEdge(request, response)) return;
          if (parts.redirects.tryServe(request, response)) return;
          setTraceHeader(response);
          // Fastify reads the body on later turns: its events run in the span's context too.
          const traced = serverContext(span);
          context.bind(traced, request);
          context.with(traced, handler, undefined, request, response);
        },
      );
      server.keepAliveTimeout = 72_000;
      return server;
    },
    logger: false,
    trustProxy: trustHops(config.trustedProxies),
    bodyLimit: config.bodyLimitBytes,
    forceCloseConnections: 'idle',
    // Draining is answered by the onRequest hook below, as a problem.
    return503OnClosing: false,
    clientErrorHandler: clientError,
    frameworkErrors: (error, _request, reply) => {
      if (error.code === 'FST_ERR_BAD_URL') {
        return sendProblem(reply, problemFromDomain(gatewayErrors.malformed_url()));
      }
      return sendProblem(reply, problemFromDomain(gatewayErrors.malformed_request(error)));
    },
    ajv: { customOptions: { removeAdditional: false } },
  });
  // JSON only: a text/plain body is refused as 415 rather than parsed as a string.
  app.removeContentTypeParser('text/plain');
  // The request's span is named after its route. While draining, requests
  // still arriving on open connections are turned away (Fastify has marked
  // them Connection: close), so that a load balancer sends them elsewhere.
  app.addHook('onRequest', (request, reply, done) => {
    const route = request.routeOptions.url;
    if (route !== undefined) nameServerSpan(reply.raw, request.method, route);
    if (parts.state.accepting) return done();
    sendProblem(reply, problemFromDomain(gatewayErrors.shutting_down()));
  });
  // Per route template, never per path: codes and ids would make a series each.
  app.addHook('onResponse', (request, reply, done) => {
    parts.metrics.httpServerDuration.observe(
      {
        http_request_method: request.method,
        http_route: request.routeOptions.url ?? 'unmatched',
        http_response_status_code: reply.statusCode,
      },
      reply.elapsedTime / 1_000,
    );
    done();
  });
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
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description:
              'A session token (POST /api/v1/guests, /api/v1/users or /api/v1/sessions) or a ' +
              "member's API key (POST /api/v1/api-keys)",
          },
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
  const routes = new RouteMethods();
  app.addHook('onRoute', (route) => routes.add(route.url, route.method));
  // Before any route: those declaring bearer security authenticate first of all.
  app.addHook('onRoute', authenticateDeclaredRoutes(clients, parts.auth));
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    const allow = routes.allowedAt(path);
    if (allow.length > 0 && !allow.includes(request.method)) {
      reply.header('allow', allow.join(', '));
      return sendProblem(
        reply,
        problemFromDomain(
          gatewayErrors.method_not_allowed({ path, allow, method: request.method }),
          405,
        ),
      );
    }
    return sendProblem(
      reply,
      problemFromDomain(gatewayErrors.not_found({ method: request.method, path })),
    );
  });

  healthRoutes(app, parts.readiness, parts.state);
  identityRoutes(app, clients, parts.auth);
  accountRoutes(app, clients, parts.auth);
  apiKeyRoutes(app, clients, parts.auth);
  linkRoutes(app, clients, config.publicBaseUrl, parts.near);
  analyticsRoutes(app, clients, config.publicBaseUrl);
  accountPageRoutes(app);
  extendPageRoutes(app, clients);
  redirectRoutes(app, parts.redirects);
  app.get(
    '/api/v1/openapi.json',
    { schema: { summary: 'This API as an OpenAPI 3.1 document', tags: ['operations'] } },
    async () => app.swagger(),
  );
  return app;
}
