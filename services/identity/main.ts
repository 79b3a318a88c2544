// Composition root of the identity service: config → adapters → domain → gRPC.
import type { Config } from '../../lib/config.ts';
import { describeDatabase, openDatabase } from '../../lib/db.ts';
import { startGrpcServer } from '../../lib/grpc/server.ts';
import { startIdGenerator } from '../../lib/ids/start.ts';
import { runService } from '../../lib/lifecycle.ts';
import type { Logger } from '../../lib/log.ts';
import type { SharedState } from '../../lib/shared-state.ts';
import { identityServiceBinding } from './grpc.ts';
import { AccessTokenRow, GuestRow } from './store/entities.ts';
import { IdentityStore } from './store/identity-store.ts';
import { MYSQL_MIGRATIONS } from './store/migrations/mysql.ts';
import { SQLITE_MIGRATIONS } from './store/migrations/sqlite.ts';

export interface RunningIdentityService {
  address: string;
  /** Drains within budgetMs (SHUTDOWN_TIMEOUT unless given). */
  stop(budgetMs?: number): Promise<void>;
}

export async function startIdentityService(
  config: Config,
  log: Logger,
  shared: SharedState,
): Promise<RunningIdentityService> {
  const orm = await openDatabase({
    url: config.identity.databaseUrl,
    entities: [GuestRow, AccessTokenRow],
    migrations: { mysql: MYSQL_MIGRATIONS, sqlite: SQLITE_MIGRATIONS },
    log,
  });
  const { ids, lease } = await startIdGenerator(shared.leases, config.snowflakeLeaseTtlMs, log);

  const binding = identityServiceBinding(
    {
      store: new IdentityStore(orm, config.grpcDeadlineMs / 2),
      limiter: shared.limiter,
      ids,
      guestsPerIp: config.identity.guestsPerIp,
      tokenTtlMs: config.identity.guestTokenTtlMs,
      now: Date.now,
    },
    log,
  );
  const server = await startGrpcServer({
    listen: config.identity.listen,
    services: [binding],
    log,
  });
  log.info(
    { database: describeDatabase(config.identity.databaseUrl), sharedState: shared.kind },
    'identity service ready',
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

if (import.meta.main) await runService('identity', startIdentityService);
