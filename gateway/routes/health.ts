// /healthz: the process is alive. /readyz: it can serve redirects, and what
// of the rest works (gateway/readiness.ts).
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { gatewayErrors } from '../errors.ts';
import { problemFromDomain, problemResponse, sendProblem } from '../problems.ts';
import type { ReadinessProbe } from '../readiness.ts';

const Status = Type.Object({ status: Type.String() });

const DependencyState = Type.Union(
  ['ok', 'unavailable', 'database_unavailable', 'database_unwritable'].map((v) => Type.Literal(v)),
);
const Ready = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('degraded')]),
  checks: Type.Object({
    link: DependencyState,
    identity: DependencyState,
    analytics: DependencyState,
  }),
});

/**
 * Where the gateway is in stopping: `draining` while it still serves but
 * tells balancers (through /readyz) to send nothing new; `accepting` false
 * once it turns requests away.
 */
export interface GatewayState {
  accepting: boolean;
  draining: boolean;
}

export function healthRoutes(
  app: FastifyInstance,
  readiness: ReadinessProbe,
  state: GatewayState,
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
        summary: 'Readiness: whether this gateway can serve redirects, and what works',
        description:
          'Answers 503 only when redirects cannot be served (the gateway is shutting down, or the ' +
          'link service is not serving): identity and analytics are off the redirect path, so their ' +
          'failing makes the gateway degraded, not unready. Otherwise 200, with `status` `ready` when every dependency ' +
          'works and `degraded` when some does not; `checks` names each dependency’s state: `ok`, ' +
          '`unavailable`, `database_unavailable` or `database_unwritable`.',
        tags: ['operations'],
        response: { 200: Ready, 503: problemResponse('Cannot serve redirects') },
      },
    },
    async (_request, reply) => {
      if (state.draining || !state.accepting)
        return sendProblem(reply, problemFromDomain(gatewayErrors.shutting_down()));
      const { servesRedirects, checks } = await readiness.check(500);
      if (!servesRedirects) {
        return sendProblem(reply, {
          ...problemFromDomain(gatewayErrors.link_unavailable()),
          checks,
        });
      }
      const degraded = Object.values(checks).some((check) => check !== 'ok');
      return { status: degraded ? 'degraded' : 'ready', checks };
    },
  );
}
