// /healthz: the process is alive. /readyz: it can do its job (the link service
// answers its health check) and is not shutting down.
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { gatewayErrors } from '../errors.ts';
import type { ServiceClients } from '../grpc-clients.ts';
import { problemFromDomain, problemResponse, sendProblem } from '../problems.ts';

const Status = Type.Object({ status: Type.String() });

export function healthRoutes(
  app: FastifyInstance,
  clients: ServiceClients,
  state: { accepting: boolean },
): void {
  app.get(
    '/healthz',
    { schema: { summary: 'Liveness', tags: ['operations'], response: { 200: Status } } },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Readiness: serving, and the link service is reachable',
        tags: ['operations'],
        response: { 200: Status, 503: problemResponse('Not ready') },
      },
    },
    async (_request, reply) => {
      if (!state.accepting)
        return sendProblem(reply, problemFromDomain(gatewayErrors.shutting_down()));
      if (!(await clients.linkServing(500))) {
        return sendProblem(reply, problemFromDomain(gatewayErrors.link_unavailable()));
      }
      return { status: 'ready' };
    },
  );
}
