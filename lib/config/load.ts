// Configuration is read from the environment once, at start-up, into typed
// objects. Each service owns its settings (its config.ts: a schema of the
// variables it reads and the typed object built from them); every process
// also reads the runtime settings below. Nothing else reads process.env (the
// OpenTelemetry SDK's own OTEL_* variables excepted). A malformed value stops
// the process with a message naming the variable. Unknown variables are not
// refused: orchestrators inject their own (Kubernetes' LINK_SERVICE_HOST, say).
import { hostname } from 'node:os';
import { z } from 'zod';
import { boolean, duration, redisUrl } from './parsers.ts';

type Env = Record<string, string | undefined>;

/** A part's settings: the variables it reads and how they become its config. */
export interface Settings<T> {
  readonly variables: z.ZodRawShape;
  build(values: Record<string, unknown>, runtime: RuntimeConfig): T;
}

export function defineSettings<S extends z.ZodRawShape, T>(
  variables: S,
  build: (values: z.output<z.ZodObject<S>>, runtime: RuntimeConfig) => T,
): Settings<T> {
  return {
    variables,
    build: (values, runtime) => build(values as z.output<z.ZodObject<S>>, runtime),
  };
}

const runtimeVariables = {
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATA_DIR: z.string().min(1).default('.data'),
  REDIS_URL: redisUrl.default(''),
  REDIS_KEY_PREFIX: z.string().max(64).default('shortener:'),
  REDIS_CLUSTER: boolean.default(false),
  GRPC_DEADLINE: duration(50, 60_000).default(2_000),
  SHUTDOWN_TIMEOUT: duration(0, 600_000).default(10_000),
  SNOWFLAKE_LEASE_TTL: duration(1_000, 300_000).default(10_000),
  DATABASE_MIGRATIONS: z.enum(['apply', 'await']).default('apply'),
  ALERT_DEPENDENCY_AFTER: duration(1_000, 86_400_000).default(60_000),
  NODE_NAME: z
    .string()
    .regex(/^[\x21-\x7e]{1,253}$/, 'expected a host name')
    .default(hostname()),
};

/** What every process reads, whichever parts it runs. */
export interface RuntimeConfig {
  logLevel: z.output<(typeof runtimeVariables)['LOG_LEVEL']>;
  dataDir: string;
  /** Empty: the in-process cache, limiter and leases of the embedded mesh. */
  redisUrl: string;
  redisKeyPrefix: string;
  /** REDIS_URL names a node of a Redis Cluster (lib/redis/client.ts). */
  redisCluster: boolean;
  grpcDeadlineMs: number;
  shutdownTimeoutMs: number;
  snowflakeLeaseTtlMs: number;
  /**
   * `apply`: a service brings its database up to date as it starts (one
   * replica at a time). `await`: it applies nothing and waits, NOT_SERVING,
   * until a migration job (migrate.ts) has, as deployments that migrate once
   * before the services do.
   */
  databaseMigrations: 'apply' | 'await';
  /** How long a dependency (a database, the broker) may fail before it is an alert. */
  alertDependencyAfterMs: number;
  /**
   * The machine this process runs on (the host name unless told; Kubernetes
   * passes the pod's node): consumers yield only to busy gateways of their
   * own node (lib/bus/yielding.ts).
   */
  nodeName: string;
}

const runtimeSettings = defineSettings(
  runtimeVariables,
  (v): RuntimeConfig => ({
    logLevel: v.LOG_LEVEL,
    dataDir: v.DATA_DIR,
    redisUrl: v.REDIS_URL,
    redisKeyPrefix: v.REDIS_KEY_PREFIX,
    redisCluster: v.REDIS_CLUSTER,
    grpcDeadlineMs: v.GRPC_DEADLINE,
    shutdownTimeoutMs: v.SHUTDOWN_TIMEOUT,
    snowflakeLeaseTtlMs: v.SNOWFLAKE_LEASE_TTL,
    databaseMigrations: v.DATABASE_MIGRATIONS,
    alertDependencyAfterMs: v.ALERT_DEPENDENCY_AFTER,
    nodeName: v.NODE_NAME,
  }),
);

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Parts = Record<string, Settings<unknown>>;
export type ConfigOf<P extends Parts> = RuntimeConfig & {
  [K in keyof P]: P[K] extends Settings<infer T> ? T : never;
};

/** Every variable the runtime and these parts read, for documentation and checks. */
export function variablesOf(parts: Parts): string[] {
  // A variable two parts read (PUBLIC_BASE_URL) is one variable.
  return [
    ...new Set([runtimeSettings, ...Object.values(parts)].flatMap((s) => Object.keys(s.variables))),
  ];
}

/**
 * Reads the runtime settings and each part's from `env`: one object with the
 * runtime settings at the top and each part's config under its name.
 */
export function loadConfig<P extends Parts>(parts: P, env: Env = process.env): ConfigOf<P> {
  const shape: z.ZodRawShape = { ...runtimeSettings.variables };
  for (const part of Object.values(parts)) Object.assign(shape, part.variables);
  const names = Object.keys(shape);
  const present = Object.fromEntries(
    names.filter((name) => env[name] !== undefined && env[name] !== '').map((n) => [n, env[n]]),
  );
  const parsed = z.object(shape).safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0]);
      return `${name}=${JSON.stringify(env[name])}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  const values = parsed.data as Record<string, unknown>;
  const runtime = runtimeSettings.build(values, undefined as never);
  const config: Record<string, unknown> = { ...runtime };
  for (const [name, part] of Object.entries(parts)) config[name] = part.build(values, runtime);
  return config as ConfigOf<P>;
}
