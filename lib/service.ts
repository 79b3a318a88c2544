// What every gRPC service shares, written once: its database opened and
// migrated, a leased worker id, its gRPC server with health and reflection,
// the ready line, and stopping in reverse order of starting. A service's
// definition names only what is its own: its settings, its schema, its
// handlers and workers (see services/link/main.ts).
import type { RuntimeConfig, Settings } from './config/load.ts';
import type { Schema } from './db/migrations.ts';
import { describeDatabase, type Orm, openDatabase } from './db/open.ts';
import { DatabaseProbe, type DatabaseState } from './db/probe.ts';
import { type RunningGrpcServer, type ServiceBinding, startGrpcServer } from './grpc/server.ts';
import type { SnowflakeGenerator } from './ids/snowflake.ts';
import { startIdGenerator } from './ids/start.ts';
import { runMain } from './lifecycle.ts';
import type { Logger } from './log.ts';
import { openSharedState, type SharedState } from './shared-state.ts';
import { ShutdownStack, type StopStep } from './shutdown.ts';

export interface ServiceContext {
  readonly runtime: RuntimeConfig;
  readonly log: Logger;
  readonly shared: SharedState;
  /** Opens the service's database and runs its pending migrations; it closes after everything started later. */
  openDatabase(url: string, schema: Schema): Promise<Orm>;
  /** An id generator on a leased worker id; the lease is given back on stop. */
  leaseIds(): Promise<SnowflakeGenerator>;
  /** Registers a part the service started (a worker, a subscription): parts stop newest first. */
  onStop(name: string, stop: StopStep): void;
}

export interface ServiceDefinition<C> {
  /** Short name, for logs: `link`, `identity`. */
  name: string;
  settings: Settings<C>;
  /** Where its gRPC server listens. */
  listen(config: C): string;
  /** Starts the service's own parts and returns the gRPC services it serves. */
  start(context: ServiceContext, config: C): Promise<ServiceBinding[]>;
}

export interface RunningService {
  /** host:port the gRPC server listens on. */
  address: string;
  /** Drains within budgetMs (SHUTDOWN_TIMEOUT unless given). */
  stop(budgetMs?: number): Promise<void>;
}

export async function startService<C>(
  definition: ServiceDefinition<C>,
  config: C,
  runtime: RuntimeConfig,
  log: Logger,
  shared: SharedState,
): Promise<RunningService> {
  const stack = new ShutdownStack(log);
  const databases: string[] = [];
  const probes: DatabaseProbe[] = [];
  const context: ServiceContext = {
    runtime,
    log,
    shared,
    async openDatabase(url, schema) {
      const orm = await openDatabase({ url, schema, log });
      stack.push('database', () => orm.close());
      databases.push(describeDatabase(url));
      const probe = new DatabaseProbe(orm, url, log);
      await probe.start();
      stack.push('database probe', () => probe.stop());
      probes.push(probe);
      return orm;
    },
    async leaseIds() {
      const { ids, lease } = await startIdGenerator(
        shared.leases,
        runtime.snowflakeLeaseTtlMs,
        log,
      );
      stack.push('worker-id lease', () => lease.close());
      return ids;
    },
    onStop: (name, stop) => stack.push(name, stop),
  };
  try {
    const services = await definition.start(context, config);
    const server = await startGrpcServer({ listen: definition.listen(config), services, log });
    stack.push('gRPC server', (budgetMs) => server.shutdown(budgetMs));
    for (const probe of probes) reportDatabase(probe, services, server);
    log.info(
      { address: server.address, databases, sharedState: shared.kind },
      `${definition.name} service ready`,
    );
    return {
      address: server.address,
      stop: (budgetMs = runtime.shutdownTimeoutMs) => stack.unwind(budgetMs),
    };
  } catch (error) {
    await stack.unwind(runtime.shutdownTimeoutMs);
    throw error;
  }
}

/**
 * What each service's database can do, in grpc.health.v1: `<service>:database`
 * is NOT_SERVING while it does not answer, `<service>:database-writes` while it
 * answers but cannot write (disk full, read-only). The service itself stays
 * SERVING: it still does what needs no write (resolving, authenticating).
 */
function reportDatabase(
  probe: DatabaseProbe,
  services: ServiceBinding[],
  server: RunningGrpcServer,
) {
  const report = (state: DatabaseState) => {
    for (const { name } of services) {
      server.setHealth(`${name}:database`, state !== 'database_unavailable');
      server.setHealth(`${name}:database-writes`, state === 'ok');
    }
  };
  report(probe.state);
  probe.onChange(report);
}

/** Runs one service as its own process, with its own connections to the shared state. */
export function runServiceProcess<C>(definition: ServiceDefinition<C>): Promise<void> {
  return runMain(definition.name, { service: definition.settings }, async (config, log) => {
    const shared = await openSharedState({
      redisUrl: config.redisUrl,
      keyPrefix: config.redisKeyPrefix,
      log,
      name: definition.name,
    });
    const service = await startService(definition, config.service, config, log, shared).catch(
      async (error: unknown) => {
        await shared.close();
        throw error;
      },
    );
    return {
      async stop() {
        await service.stop();
        await shared.close();
      },
    };
  });
}
