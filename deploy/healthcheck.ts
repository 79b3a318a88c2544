// The image's health check, for `docker run` and compose (Kubernetes probes the
// processes itself). One image runs every process, so the check first finds out
// which one this container runs (the role named on its command line, else the
// entry point PID 1 was started with), then asks it the way it answers: the
// gateway (also the all-in-one mesh) with GET /healthz, link, identity and
// analytics with grpc.health.v1 for their service, the notifier (no API of its
// own) with grpc.health.v1 for the whole server. Exits 0 when healthy, 1 when not.
import { readFileSync } from 'node:fs';
import { gatewaySettings } from '../gateway/config.ts';
import { AnalyticsServiceService } from '../gen/shortener/v1/analytics.ts';
import { IdentityServiceService } from '../gen/shortener/v1/identity.ts';
import { LinkServiceService } from '../gen/shortener/v1/link.ts';
import { type ConfigOf, loadConfig } from '../lib/config/load.ts';
import { dialable } from '../lib/config/parsers.ts';
import { healthChecker } from '../lib/grpc/health-client.ts';
import { analyticsSettings } from '../services/analytics/config.ts';
import { identitySettings } from '../services/identity/config.ts';
import { linkSettings } from '../services/link/config.ts';
import { notifierSettings } from '../services/notifier/config.ts';

export type Role = 'gateway' | 'link' | 'identity' | 'analytics' | 'notifier';

/** Entry points of the image, relative to its working directory, and how each is checked. */
export const ENTRY_POINTS: Record<string, Role> = {
  'gateway/main.ts': 'gateway',
  'services/link/main.ts': 'link',
  'services/identity/main.ts': 'identity',
  'services/analytics/main.ts': 'analytics',
  'services/notifier/main.ts': 'notifier',
  'mesh.ts': 'gateway',
};

/** `shortener.v1.LinkService` etc., from the generated method paths. */
function serviceName(definition: Record<string, { path: string }>): string {
  const [method] = Object.values(definition);
  return method?.path.split('/')[1] ?? '';
}

/** The fully qualified gRPC service each gRPC role reports in grpc.health.v1 ('' for the whole server). */
export const HEALTH_SERVICES: Record<Exclude<Role, 'gateway'>, string> = {
  link: serviceName(LinkServiceService),
  identity: serviceName(IdentityServiceService),
  analytics: serviceName(AnalyticsServiceService),
  notifier: '',
};

/** The role of a process started with these arguments, if it runs one of our entry points. */
export function roleOf(argv: string[]): Role | undefined {
  for (const arg of argv) {
    for (const [entry, role] of Object.entries(ENTRY_POINTS)) {
      if (arg === entry || arg.endsWith(`/${entry}`)) return role;
    }
  }
  return undefined;
}

/** Where a role listens, as a client on the same host dials it. */
/** Only the settings, not the services: the check runs every few seconds and must start fast. */
const SETTINGS = {
  link: linkSettings,
  identity: identitySettings,
  analytics: analyticsSettings,
  notifier: notifierSettings,
  gateway: gatewaySettings,
};

export function addressOf(role: Role, config: ConfigOf<typeof SETTINGS>): string {
  const listen = role === 'gateway' ? config.gateway.listen : config[role].listen;
  return dialable(listen);
}

async function grpcServing(address: string, service: string, timeoutMs: number): Promise<boolean> {
  const checker = healthChecker(address);
  try {
    return await checker.serving(service, timeoutMs);
  } finally {
    checker.close();
  }
}

async function httpHealthy(address: string, timeoutMs: number): Promise<boolean> {
  try {
    const response = await fetch(`http://${address}/healthz`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

/** Is the process of this role, listening at host:port, healthy? */
export function checkHealth(role: Role, address: string, timeoutMs = 3_000): Promise<boolean> {
  return role === 'gateway'
    ? httpHealthy(address, timeoutMs)
    : grpcServing(address, HEALTH_SERVICES[role], timeoutMs);
}

function pid1Arguments(): string[] {
  try {
    return readFileSync('/proc/1/cmdline', 'utf8').split('\0');
  } catch {
    return [];
  }
}

if (import.meta.main) {
  const named = process.argv[2];
  const role = Object.values(ENTRY_POINTS).find((r) => r === named) ?? roleOf(pid1Arguments());
  if (role === undefined) {
    process.stderr.write(
      'healthcheck: name the role (gateway, link, identity, analytics or notifier)\n',
    );
    process.exit(1);
  }
  const address = addressOf(role, loadConfig(SETTINGS));
  const healthy = await checkHealth(role, address);
  if (!healthy) process.stderr.write(`healthcheck: ${role} at ${address} is not healthy\n`);
  process.exit(healthy ? 0 : 1);
}
