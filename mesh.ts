// The whole mesh in one process: identity, link and the gateway, each service
// a real gRPC server on loopback, sharing one in-process cache, limiter and
// lease store (or Redis, when REDIS_URL is set). `npm start` runs this.

import { startGateway } from './gateway/main.ts';
import { type Config, dialable } from './lib/config.ts';
import { runMain } from './lib/lifecycle.ts';
import { createLogger } from './lib/log.ts';
import { openSharedState } from './lib/shared-state.ts';
import { startIdentityService } from './services/identity/main.ts';
import { startLinkService } from './services/link/main.ts';

export async function startMesh(config: Config) {
  const log = (name: string) => createLogger(name, config.logLevel);
  const shared = await openSharedState({
    redisUrl: config.redisUrl,
    keyPrefix: config.redisKeyPrefix,
    log: log('mesh'),
    name: 'mesh',
  });
  const identity = await startIdentityService(config, log('identity'), shared);
  const link = await startLinkService(config, log('link'), shared);
  const gateway = await startGateway(
    {
      ...config,
      gateway: {
        ...config.gateway,
        linkTarget: dialable(link.address),
        identityTarget: dialable(identity.address),
      },
    },
    log('gateway'),
  );
  return {
    gateway,
    link,
    identity,
    shared,
    /** One SHUTDOWN_TIMEOUT for the whole process: the gateway drains first, then both services. */
    async stop() {
      const deadline = Date.now() + config.shutdownTimeoutMs;
      const left = () => Math.max(0, deadline - Date.now());
      await gateway.stop(left());
      await Promise.all([link.stop(left()), identity.stop(left())]);
      await shared.close();
    },
  };
}

if (import.meta.main) {
  await runMain('mesh', async (config, log) => {
    const mesh = await startMesh(config);
    log.info(
      { url: mesh.gateway.url, sharedState: mesh.shared.kind },
      `mesh ready: curl -X POST ${config.gateway.publicBaseUrl}/api/v1/guests`,
    );
    return mesh;
  });
}
