// Authenticating HTTP callers: a bearer token, checked by the identity service.
// The principal it returns is what the gateway hands to other services; nothing
// from the request itself is ever taken as a principal.
//
// A route asks for a caller by declaring the bearer security requirement in
// its schema, which is also what the OpenAPI document shows; nothing else
// turns authentication on. The caller is then authenticated in onRequest,
// before the body is read, parsed or validated: a request that carries no
// valid token is answered 401 whatever else is wrong with it, and the route's
// rules are not shown to someone who may not use it. A token identity
// accepted recently is answered from the authentication cache (auth-cache.ts).
import type { FastifyRequest, onRequestAsyncHookHandler, RouteOptions } from 'fastify';
import type { Principal } from '../gen/shortener/v1/principal.ts';
import { bearerTokenHash } from '../lib/auth/revocations.ts';
import type { AuthCache } from './auth-cache.ts';
import { gatewayErrors } from './errors.ts';
import type { ServiceClients } from './grpc-clients.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
    bearerToken: string | null;
  }
}

/** The security requirement of a route that needs a caller (`schema.security`). */
export const BEARER: { bearer: string[] }[] = [{ bearer: [] }];

export function bearerToken(request: FastifyRequest): string | null {
  const value = request.headers.authorization;
  if (!value) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(value);
  return match?.[1] ?? null;
}

/**
 * True when every alternative the route's security lists needs the bearer
 * token: a route that also lists `{}` (anonymous callers welcome) checks a
 * token it is given itself.
 */
export function requiresBearer(security: unknown): boolean {
  if (!Array.isArray(security) || security.length === 0) return false;
  return security.every(
    (requirement) =>
      typeof requirement === 'object' && requirement !== null && 'bearer' in requirement,
  );
}

function authenticator(clients: ServiceClients, cache: AuthCache): onRequestAsyncHookHandler {
  return async (request) => {
    const token = bearerToken(request);
    if (!token) throw gatewayErrors.missing_token();
    const hash = cache.live ? bearerTokenHash(token) : undefined;
    const cached = hash === undefined ? undefined : cache.get(hash);
    if (cached) {
      request.principal = cached;
      request.bearerToken = token;
      return;
    }
    const epoch = cache.epoch;
    const { principal, expiresAt } = await clients.identity.authenticate({ token });
    // Identity refuses a token with its own error (invalid_token); an answer
    // without a principal breaks its contract.
    if (!principal) throw new Error('identity service authenticated a token without a principal');
    if (hash !== undefined) cache.fill(hash, principal, epoch, expiresAt);
    request.principal = principal;
    request.bearerToken = token;
  };
}

/**
 * An onRoute hook: every route declaring BEARER authenticates its caller
 * first of its own onRequest hooks. Register it before any route.
 */
export function authenticateDeclaredRoutes(
  clients: ServiceClients,
  cache: AuthCache,
): (route: RouteOptions) => void {
  const authenticate = authenticator(clients, cache);
  return (route) => {
    if (!requiresBearer(route.schema?.security)) return;
    const own = route.onRequest === undefined ? [] : [route.onRequest].flat();
    route.onRequest = [authenticate, ...own];
  };
}

/** The caller the route's authentication found, in a handler behind it. */
export function principalOf(request: { principal: Principal | null }): Principal {
  if (!request.principal) throw gatewayErrors.missing_token();
  return request.principal;
}
