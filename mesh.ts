// The whole mesh in one process: identity, link, analytics, notifier and the gateway, each service
// a real gRPC server on loopback, sharing one in-process cache, limiter and
// lease store (or Redis, when REDIS_URL is set). `npm start` runs this.
import { gatewaySettings } from './gateway/config.ts';
import { type RunningGateway, startGateway } from './gateway/main.ts';
import type { Alerts } from './lib/alerts/alerts.ts';
import type { Bus } from './lib/bus/bus.ts';
import { busSettings } from './lib/bus/config.ts';
import { type ConfigOf, defineSettings, loadConfig, variablesOf } from './lib/config/load.ts';
import { dialable, metricsListen } from './lib/config/parsers.ts';
import { runMain } from './lib/lifecycle.ts';
import { createLogger, flushLogs } from './lib/log.ts';
import type { Metrics } from './lib/metrics/metrics.ts';
import {
  isStopped,
  openInfrastructure,
  type RunningService,
  type ServiceConfig,
  type ServiceDefinition,
  startService,
} from './lib/service.ts';
import type { SharedState } from './lib/shared-state.ts';
import { ShutdownStack } from './lib/shutdown.ts';
import { analyticsService } from './services/analytics/main.ts';
import {
  defineIdentityService,
  type IdentityOptions,
  identityService,
} from './services/identity/main.ts';
import { linkService } from './services/link/main.ts';
import { notifierService } from './services/notifier/main.ts';

/** The one-process mesh serves one metrics endpoint for all its parts (their own are not opened). */
const meshSettings = defineSettings(
  { MESH_METRICS_LISTEN: metricsListen.default('127.0.0.1:9460') },
  (v) => ({ metricsListen: v.MESH_METRICS_LISTEN }),
);

/** Every part's settings: the mesh reads them all. */
export const MESH_SETTINGS = {
  mesh: meshSettings,
  link: linkService.settings,
  identity: identityService.settings,
  analytics: analyticsService.settings,
  notifier: notifierService.settings,
  gateway: gatewaySettings,
  bus: busSettings,
};
export type MeshConfig = ConfigOf<typeof MESH_SETTINGS>;
/** Every variable any process of the mesh reads, for documentation and checks. */
export const MESH_VARIABLES = variablesOf(MESH_SETTINGS);

export interface RunningMesh {
  gateway: RunningGateway;
  link: RunningService;
  identity: RunningService;
  analytics: RunningService;
  notifier: RunningService;
  shared: SharedState;
  bus: Bus;
  metrics: Metrics;
  alerts: Alerts;
  /** Where the mesh's metrics are served; undefined when MESH_METRICS_LISTEN=off. */
  metricsUrl: string | undefined;
  /** Resolves when every service serves (startMesh waits for it unless told not to). */
  ready: Promise<void>;
  /** One SHUTDOWN_TIMEOUT for the whole process: the gateway drains first, then each service. */
  stop(): Promise<void>;
}

export interface MeshOptions {
  waitUntilReady?: boolean;
  /** The clock the link service and the gateway read (lib/service.ts); Date.now unless given. */
  clock?: () => number;
  /** The identity service's own parts (tests capture its mails). */
  identity?: IdentityOptions;
}

export async function startMesh(
  config: MeshConfig,
  options: MeshOptions = {},
): Promise<RunningMesh> {
  const log = (name: string) => createLogger(name, config.logLevel);
  const stack = new ShutdownStack(log('mesh'));
  try {
    // One event loop for every part: a busy gateway here is busy partly with
    // the consumers' own work, so consumers yielding to it would only wait on
    // themselves (lib/bus/yielding.ts). They never yield in the mesh.
    const opened = await openInfrastructure(
      config,
      { ...config.bus, yieldMaxLagMs: 0 },
      log('mesh'),
      'mesh',
      config.mesh.metricsListen,
    );
    stack.push('shared state, bus and metrics', () => opened.close());
    const { shared, bus, metrics, alerts, metricsUrl } = opened;
    const infrastructure = { shared, bus, metrics, alerts, clock: options.clock };
    const start = async <C extends ServiceConfig>(definition: ServiceDefinition<C>, part: C) => {
      const service = await startService(
        definition,
        part,
        config,
        log(definition.name),
        infrastructure,
      );
      stack.push(definition.name, (budgetMs) => service.stop(budgetMs));
      return service;
    };
    const link = await start(linkService, config.link);
    // Identity hands links over to link (adoption, closed accounts), at link's address.
    const identity = await start(
      options.identity ? defineIdentityService(options.identity) : identityService,
      { ...config.identity, linkTarget: dialable(link.address) },
    );
    // Analytics asks link who owns a link, at the address link is bound to.
    const analytics = await start(analyticsService, {
      ...config.analytics,
      linkTarget: dialable(link.address),
    });
    // Its mails link to this gateway's pages unless told another public address.
    // It asks identity for link owners' addresses, at identity's address.
    const notifier = await start(notifierService, {
      ...config.notifier,
      publicBaseUrl: config.notifier.publicBaseUrl ?? config.gateway.publicBaseUrl,
      identityTarget: dialable(identity.address),
    });
    const gateway = await startGateway(
      {
        ...config.gateway,
        linkTarget: dialable(link.address),
        identityTarget: dialable(identity.address),
        analyticsTarget: dialable(analytics.address),
      },
      config,
      log('gateway'),
      infrastructure,
    );
    stack.push('gateway', (budgetMs) => gateway.stop(budgetMs));
    const ready = Promise.all([identity.ready, link.ready, analytics.ready, notifier.ready]).then(
      () => {},
    );
    if (options.waitUntilReady ?? true) await ready;
    return {
      gateway,
      link,
      identity,
      analytics,
      notifier,
      shared,
      bus,
      metrics,
      alerts,
      metricsUrl,
      ready,
      stop: () => stack.unwind(config.shutdownTimeoutMs),
    };
  } catch (error) {
    await stack.unwind(config.shutdownTimeoutMs);
    throw error;
  }
}

if (import.meta.main) {
  await runMain('mesh', MESH_SETTINGS, async (config, log) => {
    const mesh = await startMesh(config, { waitUntilReady: false });
    log.info({ url: mesh.gateway.url }, 'gateway listening; the services are starting');
    // Signals are handled from here on, also while a service waits for its database.
    mesh.ready.then(
      () =>
        log.info(
          { url: mesh.gateway.url, sharedState: mesh.shared.kind },
          `mesh ready: curl -X POST ${config.gateway.publicBaseUrl}/api/v1/guests`,
        ),
      async (error: unknown) => {
        if (isStopped(error)) return;
        log.fatal({ err: error }, 'could not start');
        await mesh.stop().catch(() => {});
        flushLogs();
        process.exit(1);
      },
    );
    return mesh;
  });
}

/** The mesh's configuration from `env` (the process environment unless given). */
export function loadMeshConfig(env: Record<string, string | undefined> = process.env): MeshConfig {
  return loadConfig(MESH_SETTINGS, env);
}
