// Authenticating HTTP callers: a bearer token, checked by the identity service.
// The principal it returns is what the gateway hands to other services; nothing
// from the request itself is ever taken as a principal.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../gen/shortener/v1/principal.ts';
import { gatewayErrors } from './errors.ts';
import type { ServiceClients } from './grpc-clients.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
    bearerToken: string | null;
  }
}

export function bearerToken(request: FastifyRequest): string | null {
  const value = request.headers.authorization;
  if (!value) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(value);
  return match?.[1] ?? null;
}

/** preHandler for routes that need a caller. */
export function requireCaller(clients: ServiceClients) {
  return async (request: FastifyRequest, _reply: FastifyReply) => {
    const token = bearerToken(request);
    if (!token) throw gatewayErrors.missing_token();
    const { principal } = await clients.identity.authenticate({ token });
    // Identity refuses a token with its own error (invalid_token); an answer
    // without a principal breaks its contract.
    if (!principal) throw new Error('identity service authenticated a token without a principal');
    request.principal = principal;
    request.bearerToken = token;
  };
}

/** The caller requireCaller authenticated, in a handler behind it. */
export function principalOf(request: { principal: Principal | null }): Principal {
  if (!request.principal) throw gatewayErrors.missing_token();
  return request.principal;
}
