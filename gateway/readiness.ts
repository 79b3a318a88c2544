// What the gateway depends on, as grpc.health.v1 reports it: each service,
// and each service's database (`<service>:database` answers,
// `<service>:database-writes` takes writes; see lib/service.ts). Redirects
// need only the link service, so only it decides whether the gateway is
// ready: identity and analytics are off the redirect path (DESIGN.md), and
// one of them failing makes the gateway degraded, not unready — an
// orchestrator that took the gateway out of service for a dead analytics
// would take redirects down with it.
import { type HealthChecker, type HealthStatus, healthChecker } from '../lib/grpc/health-client.ts';

/** One dependency: working, or the cause of what does not work. */
export type DependencyState = 'ok' | 'unavailable' | 'database_unavailable' | 'database_unwritable';

export interface Readiness {
  /** False when the gateway cannot serve redirects (the link service is not serving). */
  servesRedirects: boolean;
  checks: { link: DependencyState; identity: DependencyState; analytics: DependencyState };
}

export interface ReadinessProbe {
  check(timeoutMs: number): Promise<Readiness>;
  close(): void;
}

/** A component a service does not report (an older version) counts as working. */
const failing = (status: HealthStatus) => status === 'NOT_SERVING' || status === 'unreachable';

/** Better states rank higher: what one working instance reports beats another's failure. */
const RANK: Record<DependencyState, number> = {
  unavailable: 0,
  database_unavailable: 1,
  database_unwritable: 2,
  ok: 3,
};

/**
 * A target may name several instances, asked in turn (round robin): while
 * the answer is not ok, ask again, so one instance stopping or failing does
 * not make the whole service look down. Every instance answering alike says
 * the same thing each time.
 */
const ATTEMPTS = 3;

async function stateOf(
  checker: HealthChecker,
  service: string,
  timeoutMs: number,
): Promise<DependencyState> {
  const deadline = Date.now() + timeoutMs;
  let best: DependencyState = 'unavailable';
  for (let attempt = 0; attempt < ATTEMPTS && best !== 'ok'; attempt++) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    const state = await instanceStateOf(checker, service, left);
    if (RANK[state] > RANK[best]) best = state;
  }
  return best;
}

/** One instance's answer: the service first (one call, so turns go round the instances), then its database. */
async function instanceStateOf(
  checker: HealthChecker,
  service: string,
  timeoutMs: number,
): Promise<DependencyState> {
  const deadline = Date.now() + timeoutMs;
  if ((await checker.status(service, timeoutMs)) !== 'SERVING') return 'unavailable';
  const left = Math.max(1, deadline - Date.now());
  const [database, writes] = await Promise.all(
    [`${service}:database`, `${service}:database-writes`].map((name) => checker.status(name, left)),
  );
  if (failing(database as HealthStatus)) return 'database_unavailable';
  if (failing(writes as HealthStatus)) return 'database_unwritable';
  return 'ok';
}

export function readinessProbe(targets: {
  link: string;
  identity: string;
  analytics: string;
}): ReadinessProbe {
  const link = healthChecker(targets.link);
  const identity = healthChecker(targets.identity);
  const analytics = healthChecker(targets.analytics);
  return {
    async check(timeoutMs) {
      const [linkState, identityState, analyticsState] = await Promise.all([
        stateOf(link, 'shortener.v1.LinkService', timeoutMs),
        stateOf(identity, 'shortener.v1.IdentityService', timeoutMs),
        stateOf(analytics, 'shortener.v1.AnalyticsService', timeoutMs),
      ]);
      return {
        servesRedirects: linkState !== 'unavailable',
        checks: { link: linkState, identity: identityState, analytics: analyticsState },
      };
    },
    close() {
      link.close();
      identity.close();
      analytics.close();
    },
  };
}
