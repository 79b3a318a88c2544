// Configuration is read from the environment once, at start-up, into a typed
// object. Nothing else reads process.env (the OpenTelemetry SDK's own OTEL_*
// variables excepted). A malformed value stops the process with a message that
// names the variable. Every variable has a default that runs the embedded mesh.
import { z } from 'zod';

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `250ms`, `30s`, `10m`, `1h`, `180d`, or a plain number of milliseconds. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * (UNITS[match[2] ?? 'ms'] ?? 1);
}

export interface RateRule {
  /** Requests admitted per window. */
  limit: number;
  windowMs: number;
}

const duration = z.string().transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: 'expected a duration like 500ms, 30s, 10m, 1h or 7d' });
    return z.NEVER;
  }
  return ms;
});

/** `<count>/<duration>` and nothing else: trailing text is a typo, not a rule. */
const rate = z.string().transform((text, ctx): RateRule => {
  const match = /^(\d+)\/(\d+(?:ms|s|m|h|d)?)$/.exec(text.trim());
  const limit = match ? Number(match[1]) : 0;
  const windowMs = match?.[2] === undefined ? undefined : parseDuration(match[2]);
  if (!Number.isSafeInteger(limit) || limit < 1 || windowMs === undefined || windowMs < 1) {
    ctx.addIssue({ code: 'custom', message: 'expected <count>/<duration>, e.g. 60/1m' });
    return z.NEVER;
  }
  return { limit, windowMs };
});

const integer = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'expected a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const boolean = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

/** Every `:port` a text ends in (a list of addresses ends each in one) is at most 65535 and at least `min`. */
function portsWithin(text: string, min: number): boolean {
  return [...text.matchAll(/:(\d+)(?=,|$)/g)].every(
    (m) => Number(m[1]) >= min && Number(m[1]) <= 65_535,
  );
}

/** `host:port`, `[v6]:port`; port 0 asks the OS for a free one. */
const address = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:8080')
  .refine((v) => portsWithin(v, 0), 'expected a port from 0 (any free port) to 65535');

/** Where a client dials: host:port, or a gRPC target URI (dns:///name:port, ipv4:, unix:). */
const target = z
  .string()
  .regex(
    /^((dns|ipv4|ipv6|unix|unix-abstract):\S+|(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5})$/,
    'expected host:port or a gRPC target such as dns:///link:50051',
  )
  .refine((v) => /^unix/.test(v) || portsWithin(v, 1), 'expected a port from 1 to 65535');

const databaseUrl = z
  .string()
  .refine(
    (v) => /^sqlite:.+/.test(v) || /^mysql:\/\/[^/]+\/[A-Za-z0-9_]+(\?.*)?$/.test(v),
    'expected sqlite:<path> or mysql://user[:password]@host[:port]/database',
  );

const redisUrl = z
  .string()
  .refine((v) => v === '' || /^rediss?:\/\/.+/.test(v), 'expected redis://host:port[/db]');

const schema = z.object({
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATA_DIR: z.string().min(1).default('.data'),
  REDIS_URL: redisUrl.default(''),
  REDIS_KEY_PREFIX: z.string().max(64).default('shortener:'),
  GRPC_DEADLINE: duration.pipe(z.number().min(50).max(60_000)).default(2_000),
  SHUTDOWN_TIMEOUT: duration.pipe(z.number().min(0).max(600_000)).default(10_000),
  SNOWFLAKE_LEASE_TTL: duration.pipe(z.number().min(1_000).max(300_000)).default(10_000),

  LINK_GRPC_LISTEN: address.default('127.0.0.1:50051'),
  LINK_DATABASE_URL: databaseUrl.optional(),
  LINK_CODE_LENGTH: integer(5, 16).default(7),
  LINK_MAX_URL_LENGTH: integer(64, 8_192).default(2_048),
  LINK_ALLOW_PRIVATE_TARGETS: boolean.default(false),
  LINK_CACHE_TTL: duration
    .pipe(
      z
        .number()
        .min(1_000)
        .max(30 * 86_400_000),
    )
    .default(3_600_000),
  LINK_NEGATIVE_CACHE_TTL: duration.pipe(z.number().min(100).max(86_400_000)).default(30_000),
  RATE_LIMIT_CREATE_PER_PRINCIPAL: rate.default({ limit: 60, windowMs: 60_000 }),
  RATE_LIMIT_CREATE_PER_IP: rate.default({ limit: 300, windowMs: 60_000 }),

  IDENTITY_GRPC_LISTEN: address.default('127.0.0.1:50052'),
  IDENTITY_DATABASE_URL: databaseUrl.optional(),
  GUEST_TOKEN_TTL: duration
    .pipe(
      z
        .number()
        .min(1_000)
        .max(10 * 365 * 86_400_000),
    )
    .default(365 * 86_400_000),
  RATE_LIMIT_GUESTS_PER_IP: rate.default({ limit: 20, windowMs: 3_600_000 }),

  GATEWAY_LISTEN: address.default('127.0.0.1:8080'),
  PUBLIC_BASE_URL: z.url({ protocol: /^https?$/ }).optional(),
  LINK_GRPC_TARGET: target.optional(),
  IDENTITY_GRPC_TARGET: target.optional(),
  TRUSTED_PROXIES: integer(0, 16).default(0),
  GATEWAY_BODY_LIMIT: integer(1_024, 1_048_576).default(16_384),
  GATEWAY_HEADER_LIMIT: integer(1_024, 65_536).default(16_384),
  GATEWAY_REQUEST_TIMEOUT: duration.pipe(z.number().min(100).max(600_000)).default(30_000),
  NEAR_CACHE_SIZE: integer(0, 10_000_000).default(100_000),
  NEAR_CACHE_TTL: duration.pipe(z.number().min(100).max(3_600_000)).default(30_000),
});

export type ConfigVariable = keyof typeof schema.shape;
/** Every variable the services read, for documentation and checks. */
export const CONFIG_VARIABLES = Object.keys(schema.shape) as ConfigVariable[];

export interface Config {
  logLevel: z.infer<typeof schema>['LOG_LEVEL'];
  dataDir: string;
  /** Empty: the in-process cache, limiter and leases of the embedded mesh. */
  redisUrl: string;
  redisKeyPrefix: string;
  grpcDeadlineMs: number;
  shutdownTimeoutMs: number;
  snowflakeLeaseTtlMs: number;
  link: {
    listen: string;
    databaseUrl: string;
    codeLength: number;
    maxUrlLength: number;
    allowPrivateTargets: boolean;
    cacheTtlMs: number;
    negativeCacheTtlMs: number;
    createPerPrincipal: RateRule;
    createPerIp: RateRule;
  };
  identity: {
    listen: string;
    databaseUrl: string;
    guestTokenTtlMs: number;
    guestsPerIp: RateRule;
  };
  gateway: {
    listen: string;
    publicBaseUrl: string;
    linkTarget: string;
    identityTarget: string;
    trustedProxies: number;
    bodyLimitBytes: number;
    headerLimitBytes: number;
    /** How long a client may take to send a whole request (408 beyond). */
    requestTimeoutMs: number;
    nearCacheSize: number;
    nearCacheTtlMs: number;
  };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** A listen address as a client would dial it: a wildcard host becomes loopback. */
export function dialable(listen: string): string {
  return listen.replace(/^(0\.0\.0\.0|\[::\]):/, (_, host: string) =>
    host === '0.0.0.0' ? '127.0.0.1:' : '[::1]:',
  );
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const present = Object.fromEntries(
    CONFIG_VARIABLES.filter((name) => env[name] !== undefined && env[name] !== '').map((name) => [
      name,
      env[name],
    ]),
  );
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0]);
      return `${name}=${JSON.stringify(env[name])}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  const v = parsed.data;
  const gatewayUrl = `http://${dialable(v.GATEWAY_LISTEN).replace(/^127\.0\.0\.1:/, 'localhost:')}`;
  return {
    logLevel: v.LOG_LEVEL,
    dataDir: v.DATA_DIR,
    redisUrl: v.REDIS_URL,
    redisKeyPrefix: v.REDIS_KEY_PREFIX,
    grpcDeadlineMs: v.GRPC_DEADLINE,
    shutdownTimeoutMs: v.SHUTDOWN_TIMEOUT,
    snowflakeLeaseTtlMs: v.SNOWFLAKE_LEASE_TTL,
    link: {
      listen: v.LINK_GRPC_LISTEN,
      databaseUrl: v.LINK_DATABASE_URL ?? `sqlite:${v.DATA_DIR}/link.sqlite`,
      codeLength: v.LINK_CODE_LENGTH,
      maxUrlLength: v.LINK_MAX_URL_LENGTH,
      allowPrivateTargets: v.LINK_ALLOW_PRIVATE_TARGETS,
      cacheTtlMs: v.LINK_CACHE_TTL,
      negativeCacheTtlMs: v.LINK_NEGATIVE_CACHE_TTL,
      createPerPrincipal: v.RATE_LIMIT_CREATE_PER_PRINCIPAL,
      createPerIp: v.RATE_LIMIT_CREATE_PER_IP,
    },
    identity: {
      listen: v.IDENTITY_GRPC_LISTEN,
      databaseUrl: v.IDENTITY_DATABASE_URL ?? `sqlite:${v.DATA_DIR}/identity.sqlite`,
      guestTokenTtlMs: v.GUEST_TOKEN_TTL,
      guestsPerIp: v.RATE_LIMIT_GUESTS_PER_IP,
    },
    gateway: {
      listen: v.GATEWAY_LISTEN,
      publicBaseUrl: (v.PUBLIC_BASE_URL ?? gatewayUrl).replace(/\/+$/, ''),
      linkTarget: v.LINK_GRPC_TARGET ?? dialable(v.LINK_GRPC_LISTEN),
      identityTarget: v.IDENTITY_GRPC_TARGET ?? dialable(v.IDENTITY_GRPC_LISTEN),
      trustedProxies: v.TRUSTED_PROXIES,
      bodyLimitBytes: v.GATEWAY_BODY_LIMIT,
      headerLimitBytes: v.GATEWAY_HEADER_LIMIT,
      requestTimeoutMs: v.GATEWAY_REQUEST_TIMEOUT,
      nearCacheSize: v.NEAR_CACHE_SIZE,
      nearCacheTtlMs: v.NEAR_CACHE_TTL,
    },
  };
}
