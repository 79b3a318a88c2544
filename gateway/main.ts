// Composition root of the gateway: gRPC clients → near cache and redirect
// batcher → HTTP. On SIGTERM it stops being ready (and goes on serving for
// the drain delay, while balancers notice), stops accepting, lets in-flight
// requests (and their batches) finish, then closes its channels.
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { busSettings } from '../lib/bus/config.ts';
import { announceWhileBusy } from '../lib/bus/yielding.ts';
import type { RuntimeConfig } from '../lib/config/load.ts';
import { startIdGenerator } from '../lib/ids/start.ts';
import { runMain } from '../lib/lifecycle.ts';
import type { Logger } from '../lib/log.ts';
import { redirectTally } from '../lib/metrics/metrics.ts';
import { type Infrastructure, openInfrastructure } from '../lib/service.ts';
import { ShutdownStack } from '../lib/shutdown.ts';
import { buildApp } from './app.ts';
import { AuthCache, followRevocations } from './auth-cache.ts';
import { ClickBuffer } from './clicks/click-buffer.ts';
import { publishClicksOn } from './clicks/publish.ts';
import { type GatewayConfig, gatewaySettings } from './config.ts';
import { connectServices } from './grpc-clients.ts';
import { callerAddress } from './http-caller.ts';
import { followLinkChanges, NearCache } from './near-cache.ts';
import { readinessProbe } from './readiness.ts';
import { RedirectBatcher } from './redirect-batcher.ts';
import { RedirectPath } from './redirect-path.ts';
import type { GatewayState } from './routes/health.ts';

export interface RunningGateway {
  /** http://host:port actually bound. */
  url: string;
  near: NearCache;
  auth: AuthCache;
  /** Drains within budgetMs (SHUTDOWN_TIMEOUT unless given). */
  stop(budgetMs?: number): Promise<void>;
}

/**
 * Clicks leave in batches on the bus, each with a Snowflake event id (so
 * the gateway leases a worker id like any service); the buffer is published
 * out after the HTTP server has drained and before the bus closes.
 */
async function recordClicks(
  config: GatewayConfig,
  runtime: RuntimeConfig,
  log: Logger,
  { shared, bus, metrics, alerts }: Infrastructure,
  stack: ShutdownStack,
): Promise<ClickBuffer> {
  const { ids, lease } = await startIdGenerator(shared.leases, runtime.snowflakeLeaseTtlMs, log, {
    part: 'gateway',
    metrics,
    alerts,
  });
  stack.push('worker-id lease', () => lease.close());
  const clicks = new ClickBuffer({
    publish: publishClicksOn(bus),
    nextEventId: () => ids.next(),
    log,
    maxBatch: config.clicks.batchSize,
    flushMs: config.clicks.flushMs,
    capacity: config.clicks.capacity,
    alerts,
  });
  metrics.watchClicks(clicks.counts);
  stack.push('click buffer', (budgetMs) => clicks.stop(budgetMs));
  // The click consumers on this node hold back while the redirects keep it busy.
  stack.push(
    'busy announcer',
    announceWhileBusy(shared.broadcast, {
      node: runtime.nodeName,
      threshold: config.busyUtilization,
      log,
    }),
  );
  return clicks;
}

function splitListen(listen: string): { host: string; port: number } {
  const index = listen.lastIndexOf(':');
  return {
    host: listen.slice(0, index).replace(/^\[|\]$/g, ''),
    port: Number(listen.slice(index + 1)),
  };
}

export async function startGateway(
  config: GatewayConfig,
  runtime: RuntimeConfig,
  log: Logger,
  infrastructure: Infrastructure,
): Promise<RunningGateway> {
  const stack = new ShutdownStack(log);
  const clicks = config.clicks.record
    ? await recordClicks(config, runtime, log, infrastructure, stack)
    : undefined;
  const clients = connectServices({
    linkTarget: config.linkTarget,
    identityTarget: config.identityTarget,
    analyticsTarget: config.analyticsTarget,
    deadlineMs: runtime.grpcDeadlineMs,
  });
  stack.push('gRPC clients', () => clients.close());
  const near = new NearCache(config.nearCacheSize, config.nearCacheTtlMs);
  stack.push('link change follower', followLinkChanges(clients.link, near, log));
  const auth = new AuthCache(config.authCacheSize, config.authCacheTtlMs);
  stack.push('revocation follower', followRevocations(infrastructure.shared.broadcast, auth, log));
  const now = infrastructure.clock ?? Date.now;
  const tally = redirectTally();
  infrastructure.metrics.watchRedirects(tally);
  const batcher = new RedirectBatcher(
    clients.link,
    near,
    runtime.grpcDeadlineMs,
    clicks,
    now,
    tally,
  );
  const redirects = new RedirectPath(
    near,
    batcher,
    callerAddress(config.trustedProxies),
    clicks,
    now,
    tally,
  );
  const readiness = readinessProbe({
    link: config.linkTarget,
    identity: config.identityTarget,
    analytics: config.analyticsTarget,
  });
  stack.push('health checks', () => readiness.close());
  const state: GatewayState = { accepting: true, draining: false };
  const app = await buildApp({
    config,
    log,
    clients,
    near,
    auth,
    redirects,
    readiness,
    state,
    metrics: infrastructure.metrics,
  });
  await app.listen(splitListen(config.listen)).catch(async (error: unknown) => {
    await stack.unwind(0);
    throw error;
  });
  stack.push('HTTP server', async (budgetMs) => {
    const stopBy = Date.now() + budgetMs;
    // Unready first, still serving: a balancer checking /readyz stops sending
    // here before any request is turned away (GATEWAY_DRAIN_DELAY).
    state.draining = true;
    const drainMs = Math.min(config.drainDelayMs, budgetMs);
    if (drainMs > 0) {
      log.info({ drainMs }, 'draining: unready, still serving');
      await sleep(drainMs);
    }
    state.accepting = false;
    // Requests in flight finish; their keep-alive connections go as soon as
    // they are idle (Fastify only closes those idle when closing starts),
    // and whatever is still open at the deadline is cut.
    const closing = app.close();
    const sweep = setInterval(() => app.server.closeIdleConnections(), 50);
    const deadline = setTimeout(
      () => app.server.closeAllConnections(),
      Math.max(0, stopBy - Date.now()),
    );
    try {
      await closing;
    } finally {
      clearInterval(sweep);
      clearTimeout(deadline);
    }
  });
  const address = app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  log.info(
    {
      url,
      link: config.linkTarget,
      identity: config.identityTarget,
      analytics: config.analyticsTarget,
      nearCache: near.enabled,
      authCache: auth.enabled,
    },
    'gateway listening',
  );
  return {
    url,
    near,
    auth,
    stop: (budgetMs = runtime.shutdownTimeoutMs) => stack.unwind(budgetMs),
  };
}

if (import.meta.main) {
  await runMain('gateway', { gateway: gatewaySettings, bus: busSettings }, async (config, log) => {
    // It consumes nothing, so it has nothing to hold back for busy gateways.
    const infrastructure = await openInfrastructure(
      config,
      { ...config.bus, yieldMaxLagMs: 0 },
      log,
      'gateway',
      config.gateway.metricsListen,
    );
    // A gateway process of its own with in-process shared state cannot hear
    // identity's revocations (they are broadcast in identity's process): it
    // must not cache authentications.
    const alone = infrastructure.shared.kind === 'memory' && config.gateway.authCacheSize > 0;
    if (alone)
      log.warn('no REDIS_URL: revocations cannot reach this process; authentication cache off');
    const gateway = await startGateway(
      alone ? { ...config.gateway, authCacheSize: 0 } : config.gateway,
      config,
      log,
      infrastructure,
    );
    return {
      async stop() {
        await gateway.stop();
        await infrastructure.close();
      },
    };
  });
}
