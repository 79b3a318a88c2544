// Composition root of the gateway: config → gRPC clients → near cache and
// redirect batcher → HTTP. On SIGTERM it stops being ready, stops accepting,
// lets in-flight requests (and their batches) finish, then closes its channels.
import type { AddressInfo } from 'node:net';
import type { Config } from '../lib/config.ts';
import { runMain } from '../lib/lifecycle.ts';
import type { Logger } from '../lib/log.ts';
import { buildApp } from './app.ts';
import { clientAddress } from './client-info.ts';
import { connectClients } from './clients.ts';
import { followLinkChanges, NearCache } from './near-cache.ts';
import { RedirectBatcher } from './redirect-batcher.ts';
import { RedirectPath } from './redirect-path.ts';

export interface RunningGateway {
  /** http://host:port actually bound. */
  url: string;
  near: NearCache;
  /** Drains within budgetMs (SHUTDOWN_TIMEOUT unless given). */
  stop(budgetMs?: number): Promise<void>;
}

function splitListen(listen: string): { host: string; port: number } {
  const index = listen.lastIndexOf(':');
  return {
    host: listen.slice(0, index).replace(/^\[|\]$/g, ''),
    port: Number(listen.slice(index + 1)),
  };
}

export async function startGateway(config: Config, log: Logger): Promise<RunningGateway> {
  const clients = connectClients({
    linkTarget: config.gateway.linkTarget,
    identityTarget: config.gateway.identityTarget,
    deadlineMs: config.grpcDeadlineMs,
  });
  const near = new NearCache(config.gateway.nearCacheSize, config.gateway.nearCacheTtlMs);
  const stopFollowing = followLinkChanges(clients.rawLink, near, log);
  const batcher = new RedirectBatcher(clients.rawLink, near, config.grpcDeadlineMs);
  const redirects = new RedirectPath(near, batcher, clientAddress(config.gateway.trustedProxies));
  const state = { accepting: true };
  const app = await buildApp({ config, log, clients, near, redirects, state });
  await app.listen(splitListen(config.gateway.listen));
  const address = app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  log.info(
    {
      url,
      link: config.gateway.linkTarget,
      identity: config.gateway.identityTarget,
      nearCache: near.enabled,
    },
    'gateway listening',
  );
  return {
    url,
    near,
    async stop(budgetMs = config.shutdownTimeoutMs) {
      state.accepting = false;
      // Requests in flight finish; their keep-alive connections go as soon as
      // they are idle (Fastify only closes those idle when closing starts),
      // and whatever is still open at the deadline is cut.
      const closing = app.close();
      const sweep = setInterval(() => app.server.closeIdleConnections(), 50);
      const deadline = setTimeout(() => app.server.closeAllConnections(), budgetMs);
      try {
        await closing;
      } finally {
        clearInterval(sweep);
        clearTimeout(deadline);
      }
      stopFollowing();
      clients.close();
    },
  };
}

if (import.meta.main) await runMain('gateway', (config, log) => startGateway(config, log));
