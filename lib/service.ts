// What every gRPC service shares, written once: its gRPC server with health
// and reflection, its database opened and migrated, a leased worker id, the
// ready line, and stopping in reverse order of starting. A service's
// definition names only what is its own: its settings, its schema, its
// handlers and workers (see services/link/main.ts).
//
// The server listens first and answers health checks (NOT_SERVING) while the
// rest starts; a database that cannot be opened yet (unreachable, a read-only
// or full disk) is retried until it can, so a service comes up by itself when
// the cause is gone instead of exiting.

import { Alerts } from './alerts/alerts.ts';
import { backoffDelay } from './backoff.ts';
import type { Bus } from './bus/bus.ts';
import { type BusConfig, busSettings } from './bus/config.ts';
import { openBus } from './bus/open.ts';
import { YieldGate } from './bus/yielding.ts';
import type { RuntimeConfig, Settings } from './config/load.ts';
import type { Schema } from './db/migrations.ts';
import { describeDatabase, MigrationsPending, type Orm, openDatabase } from './db/open.ts';
import { DatabaseProbe, type DatabaseState } from './db/probe.ts';
import { measureHandlersOf } from './grpc/handlers.ts';
import { type RunningGrpcServer, type ServiceBinding, startGrpcServer } from './grpc/server.ts';
import type { SnowflakeGenerator } from './ids/snowflake.ts';
import { startIdGenerator } from './ids/start.ts';
import { runMain } from './lifecycle.ts';
import { flushLogs, type Logger, ThrottledLog } from './log.ts';
import { Metrics } from './metrics/metrics.ts';
import { METRICS_OFF, startMetricsServer } from './metrics/server.ts';
import { openSharedState, type SharedState } from './shared-state.ts';
import { ShutdownStack, type StopStep } from './shutdown.ts';

/** What every part of a process shares: the shared state, the bus, its metrics and alerts. */
export interface Infrastructure {
  readonly shared: SharedState;
  /** Domain events, at least once (RabbitMQ, or in process for the embedded mesh). */
  readonly bus: Bus;
  /** The process's metrics: one registry for all its parts, served at its metrics endpoint. */
  readonly metrics: Metrics;
  /** Where error-level events become `ops.alert` events (lib/alerts/alerts.ts). */
  readonly alerts: Alerts;
  /** The time every rule that depends on it reads (ms since the epoch); Date.now unless given (tests). */
  readonly clock?: () => number;
  /** Where consumers wait their turn while a gateway on the node is busy; undefined: they never yield. */
  readonly yieldGate?: YieldGate;
}

export interface ServiceContext extends Infrastructure {
  readonly runtime: RuntimeConfig;
  readonly log: Logger;
  /** The service's database, migrated (when the definition names a schema). */
  readonly orm: Orm;
  /** An id generator on a leased worker id (when the definition asks for ids). */
  readonly ids: SnowflakeGenerator;
  /** Registers a part the service started (a worker, a subscription): parts stop newest first. */
  onStop(name: string, stop: StopStep): void;
  /** The clock its rules read: the infrastructure's, or Date.now. */
  readonly now: () => number;
}

/** What a consumer of the bus needs of its service: where it stops, and where it yields and says so (unless a test leaves those out). */
export type ConsumerContext = Pick<ServiceContext, 'bus' | 'onStop'> &
  Partial<Pick<ServiceContext, 'yieldGate' | 'metrics'>>;

/** What every service's settings hold: where its gRPC server listens, and its database. */
export interface ServiceConfig {
  listen: string;
  /** Where its process serves GET /metrics (`off`: nowhere); the one-process mesh serves one for all. */
  metricsListen: string;
  databaseUrl?: string;
}

export interface ServiceDefinition<C extends ServiceConfig> {
  /** Short name, for logs: `link`, `identity`. */
  name: string;
  settings: Settings<C>;
  /** Its database's schema, opened at config.databaseUrl before start(). */
  schema?: Schema;
  /** Whether it issues Snowflake ids (a worker id is leased before start()). */
  issuesIds?: boolean;
  /** Starts the service's own parts and returns the gRPC services it serves. */
  start(context: ServiceContext, config: C): Promise<ServiceBinding[]>;
}

export interface RunningService {
  /** host:port the gRPC server listens on. */
  address: string;
  /** Resolves when the service serves; rejects if it cannot start at all. */
  ready: Promise<void>;
  /** Drains within budgetMs (SHUTDOWN_TIMEOUT unless given). */
  stop(budgetMs?: number): Promise<void>;
}

class Stopped extends Error {
  override name = 'Stopped';
}

/** True for the error a service's `ready` rejects with when it was stopped before it served. */
export function isStopped(error: unknown): boolean {
  return error instanceof Stopped;
}

/** Opening failed for a cause that may pass: the database is down, or its disk is full or read-only. */
function mayPass(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  const text = `${typeof code === 'string' ? code : ''} ${(error as Error).message ?? ''}`;
  return /ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EROFS|EACCES|ENOSPC|ENOENT|SQLITE_(CANTOPEN|READONLY|FULL|IOERR)|unable to open database|readonly database|disk is full|ER_CON_COUNT_ERROR|PROTOCOL_CONNECTION_LOST/i.test(
    text,
  );
}

export async function startService<C extends ServiceConfig>(
  definition: ServiceDefinition<C>,
  config: C,
  runtime: RuntimeConfig,
  log: Logger,
  infrastructure: Infrastructure,
): Promise<RunningService> {
  const { shared, metrics, alerts } = infrastructure;
  measureHandlersOf(log, metrics);
  const server = await startGrpcServer({ listen: config.listen, log });
  const stack = new ShutdownStack(log);
  const databases: string[] = [];
  const probes: DatabaseProbe[] = [];
  const waiting = new ThrottledLog(log, 30_000);
  let stopping = false;

  const openWhenPossible = async (url: string, schema: Schema): Promise<Orm> => {
    for (let attempt = 0; ; attempt++) {
      if (stopping) throw new Stopped(`${definition.name} stopped before its database opened`);
      try {
        return await openDatabase({ url, schema, log, migrations: runtime.databaseMigrations });
      } catch (error) {
        if (!(mayPass(error) || error instanceof MigrationsPending)) throw error;
        waiting.warn(
          'database',
          { database: describeDatabase(url), cause: (error as Error).message },
          'database cannot be opened yet; retrying (the service answers NOT_SERVING meanwhile)',
        );
        await new Promise((resolve) => setTimeout(resolve, backoffDelay(attempt)));
      }
    }
  };

  const openDatabaseOf = async (url: string, schema: Schema): Promise<Orm> => {
    const orm = await openWhenPossible(url, schema);
    stack.push('database', () => orm.close());
    databases.push(describeDatabase(url));
    const probe = new DatabaseProbe(orm, url, log);
    await probe.start();
    stack.push('database probe', () => probe.stop());
    probes.push(probe);
    alertOnOutage(probe, `${definition.name}:database`, alerts);
    return orm;
  };
  const leaseIds = async (): Promise<SnowflakeGenerator> => {
    const { ids, lease } = await startIdGenerator(shared.leases, runtime.snowflakeLeaseTtlMs, log, {
      part: definition.name,
      metrics,
      alerts,
    });
    stack.push('worker-id lease', () => lease.close());
    return ids;
  };
  /** What a definition did not ask for is not there: using it is a bug, said plainly. */
  const missing = (what: string): never => {
    throw new Error(`${definition.name} uses ${what} but its definition does not ask for it`);
  };

  const ready = (async () => {
    const { schema } = definition;
    if (schema && !config.databaseUrl)
      throw new Error(`${definition.name} has a schema but no database URL`);
    const orm =
      schema && config.databaseUrl ? await openDatabaseOf(config.databaseUrl, schema) : undefined;
    const ids = definition.issuesIds ? await leaseIds() : undefined;
    const context: ServiceContext = {
      runtime,
      log,
      ...infrastructure,
      get orm() {
        return orm ?? missing('a database');
      },
      get ids() {
        return ids ?? missing('Snowflake ids');
      },
      onStop: (name, stop) => stack.push(name, stop),
      now: infrastructure.clock ?? Date.now,
    };
    const services = await definition.start(context, config);
    if (stopping) throw new Stopped(`${definition.name} stopped while starting`);
    server.serve(services);
    // A service with no API of its own (the notifier) reports under its name.
    const names = services.length > 0 ? services.map((s) => s.name) : [definition.name];
    for (const probe of probes) reportDatabase(probe, names, server);
    if (ids) stack.push('id health', reportIds(ids, names, server));
    log.info(
      { address: server.address, databases, sharedState: shared.kind },
      `${definition.name} service ready`,
    );
  })();
  // A stop while starting is not a failure of the service.
  ready.catch(() => {});

  return {
    address: server.address,
    ready,
    async stop(budgetMs = runtime.shutdownTimeoutMs) {
      stopping = true;
      const deadline = Date.now() + budgetMs;
      await server.shutdown(budgetMs);
      await ready.catch(() => {});
      await stack.unwind(Math.max(0, deadline - Date.now()));
    },
  };
}

/**
 * What each service's database can do, in grpc.health.v1: `<service>:database`
 * (`notifier:database` for a service that serves no API of its own)
 * is NOT_SERVING while it does not answer, `<service>:database-writes` while it
 * answers but cannot write (disk full, read-only). The service itself stays
 * SERVING: it still does what needs no write (resolving, authenticating).
 */
function reportDatabase(probe: DatabaseProbe, names: string[], server: RunningGrpcServer): void {
  const report = (state: DatabaseState) => {
    for (const name of names) {
      server.setHealth(`${name}:database`, state !== 'database_unavailable');
      server.setHealth(`${name}:database-writes`, state === 'ok');
    }
  };
  report(probe.state);
  probe.onChange(report);
}

/** How often a service looks whether it can still issue ids: well within a lease's validity. */
const IDS_REPORT_MS = 250;

/**
 * Whether the service can issue ids, in grpc.health.v1 as `<service>:ids`:
 * NOT_SERVING while its worker-id lease is not confirmed (its Redis is gone,
 * or the lease is still being claimed), so creating answers 503 there while
 * everything else it does goes on. The service itself stays SERVING.
 */
function reportIds(ids: SnowflakeGenerator, names: string[], server: RunningGrpcServer): StopStep {
  let issuing: boolean | undefined;
  const report = () => {
    if (ids.canIssue === issuing) return;
    issuing = ids.canIssue;
    for (const name of names) server.setHealth(`${name}:ids`, issuing);
  };
  report();
  const timer = setInterval(report, IDS_REPORT_MS);
  timer.unref();
  return () => clearInterval(timer);
}

/** A database that stays unreachable past the threshold is an alert; its return resolves it. */
function alertOnOutage(probe: DatabaseProbe, subject: string, alerts: Alerts): void {
  const report = (state: DatabaseState) => {
    if (state === 'database_unavailable') alerts.dependencyFailing(subject, 'database unreachable');
    else alerts.dependencyWorks(subject);
  };
  report(probe.state);
  probe.onChange(report);
}

export interface OpenInfrastructure extends Infrastructure {
  /** Where its metrics are served (http://host:port/metrics); undefined when off. */
  readonly metricsUrl: string | undefined;
  close(): Promise<void>;
}

/**
 * A process's own connections to the shared state and the bus, its metrics
 * (served at `metricsListen`) and its alerts; close() once its parts have stopped.
 */
export async function openInfrastructure(
  runtime: RuntimeConfig,
  busConfig: BusConfig,
  log: Logger,
  name: string,
  metricsListen: string = METRICS_OFF,
): Promise<OpenInfrastructure> {
  const metrics = new Metrics();
  const shared = await openSharedState({
    redisUrl: runtime.redisUrl,
    keyPrefix: runtime.redisKeyPrefix,
    cluster: runtime.redisCluster,
    log,
    name,
    metrics,
  });
  // The alerts publish on the bus, and the bus raises alerts (dead letters).
  let bus: Bus | undefined;
  const alerts = new Alerts({
    publish: (routingKey, body, options) =>
      bus ? bus.publish(routingKey, body, options) : Promise.reject(new Error('no bus yet')),
    service: name,
    log,
    metrics,
    dependencyThresholdMs: runtime.alertDependencyAfterMs,
  });
  const opened = openBus(busConfig, log, { metrics, alerts });
  bus = opened;
  const yieldGate =
    busConfig.yieldMaxLagMs > 0
      ? new YieldGate(shared.broadcast, {
          node: runtime.nodeName,
          maxLagMs: busConfig.yieldMaxLagMs,
        })
      : undefined;
  const server = await startMetricsServer(metricsListen, metrics, log);
  return {
    shared,
    bus: opened,
    metrics,
    alerts,
    yieldGate,
    metricsUrl: server.url,
    async close() {
      alerts.close();
      await server.close();
      await opened.close();
      await yieldGate?.close();
      await shared.close();
    },
  };
}

/** Runs one service as its own process, with its own connections to the shared state and the bus. */
export function runServiceProcess<C extends ServiceConfig>(
  definition: ServiceDefinition<C>,
): Promise<void> {
  const settings = { service: definition.settings, bus: busSettings };
  return runMain(definition.name, settings, async (config, log) => {
    const infrastructure = await openInfrastructure(
      config,
      config.bus,
      log,
      definition.name,
      config.service.metricsListen,
    );
    const service = await startService(definition, config.service, config, log, infrastructure);
    const stop = async () => {
      await service.stop();
      await infrastructure.close();
    };
    // Signals are handled from here on, also while the service waits for its database.
    service.ready.catch(async (error: unknown) => {
      if (error instanceof Stopped) return;
      log.fatal({ err: error }, 'could not start');
      await stop().catch(() => {});
      flushLogs();
      process.exit(1);
    });
    return { stop };
  });
}
