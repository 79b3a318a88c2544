// Composition root of the link service: config → adapters → domain → gRPC.
import type { Config } from '../../lib/config.ts';
import { describeDatabase, openDatabase } from '../../lib/db.ts';
import { startGrpcServer } from '../../lib/grpc/server.ts';
import { startIdGenerator } from '../../lib/ids/start.ts';
import { runService } from '../../lib/lifecycle.ts';
import type { Logger } from '../../lib/log.ts';
import type { SharedState } from '../../lib/shared-state.ts';
import { LinkChanges } from './domain/link-changes.ts';
import { LinkResolver } from './domain/resolve-links.ts';
import { linkServiceBinding } from './grpc.ts';
import { LinkRow } from './store/entities.ts';
import { LinkCache } from './store/link-cache.ts';
import { LinkStore } from './store/link-store.ts';
import { MYSQL_MIGRATIONS } from './store/migrations/mysql.ts';
import { SQLITE_MIGRATIONS } from './store/migrations/sqlite.ts';

/** Logs failed database reads of the redirect path, at most once every 10 s. */
function databaseFailures(log: Logger): (error: unknown) => void {
  let last = 0;
  return (error) => {
    if (Date.now() - last < 10_000) return;
    last = Date.now();
    log.warn(
      { cause: (error as Error).message },
      'database reads failing; affected codes answer unavailable',
    );
  };
}

export interface RunningLinkService {
  /** host:port the gRPC server listens on. */
  address: string;
  /** Drains within budgetMs (SHUTDOWN_TIMEOUT unless given). */
  stop(budgetMs?: number): Promise<void>;
}

export async function startLinkService(
  config: Config,
  log: Logger,
  shared: SharedState,
): Promise<RunningLinkService> {
  const orm = await openDatabase({
    url: config.link.databaseUrl,
    entities: [LinkRow],
    migrations: { mysql: MYSQL_MIGRATIONS, sqlite: SQLITE_MIGRATIONS },
    log,
  });
  const { ids, lease } = await startIdGenerator(shared.leases, config.snowflakeLeaseTtlMs, log);

  const now = Date.now;
  const store = new LinkStore(orm, config.grpcDeadlineMs / 2);
  const cache = new LinkCache(shared.cache, {
    ttlMs: config.link.cacheTtlMs,
    negativeTtlMs: config.link.negativeCacheTtlMs,
    log,
  });
  const changes = new LinkChanges(shared.broadcast, log);
  changes.start();
  const binding = linkServiceBinding(
    {
      create: {
        store,
        cache,
        limiter: shared.limiter,
        ids,
        policy: {
          maxLength: config.link.maxUrlLength,
          allowPrivateTargets: config.link.allowPrivateTargets,
        },
        codeLength: config.link.codeLength,
        limits: { perPrincipal: config.link.createPerPrincipal, perIp: config.link.createPerIp },
        now,
      },
      manage: { store, cache, changes, now },
      resolver: new LinkResolver(store, cache, { now, onFailure: databaseFailures(log) }),
      changes,
    },
    log,
  );
  const server = await startGrpcServer({
    listen: config.link.listen,
    services: [binding],
    log,
    onShutdown: () => void changes.stop(),
  });
  log.info(
    { database: describeDatabase(config.link.databaseUrl), sharedState: shared.kind },
    'link service ready',
  );

  return {
    address: server.address,
    async stop(budgetMs = config.shutdownTimeoutMs) {
      await server.shutdown(budgetMs);
      await lease.close();
      await orm.close();
    },
  };
}

if (import.meta.main) await runService('link', startLinkService);
