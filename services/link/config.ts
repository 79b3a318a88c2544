// The link service's settings.
import { z } from 'zod';
import { defineSettings } from '../../lib/config/load.ts';
import {
  address,
  boolean,
  databaseUrl,
  duration,
  integer,
  metricsListen,
  type RateRule,
  rate,
} from '../../lib/config/parsers.ts';

const DAY = 86_400_000;

export interface LinkConfig {
  listen: string;
  /** Where GET /metrics is served (`off`: nowhere). */
  metricsListen: string;
  databaseUrl: string;
  codeLength: number;
  maxUrlLength: number;
  allowPrivateTargets: boolean;
  cacheTtlMs: number;
  negativeCacheTtlMs: number;
  createPerPrincipal: RateRule;
  createPerIp: RateRule;
  /** A link's last access is written at most once per this much click time. */
  lastAccessIntervalMs: number;
  /** Expiry by use, extensions, notices and the sweeper (docs/decisions/0007-expiry.md). */
  expiry: ExpiryConfig;
}

export interface ExpiryConfig {
  /** A link unused for this long expires. */
  idleMs: number;
  /** What ExtendLink adds when not told, and the most it adds. */
  extendDefaultMs: number;
  extendMaxMs: number;
  /** Members are told this long before a link expires. */
  noticeWindowMs: number;
  /** How often the notice scheduler looks for links expiring soon. */
  noticeIntervalMs: number;
  /** How long a scheduler holds a notice it claimed before another may send it. */
  noticeLeaseMs: number;
  /** Signs the extend tokens of notices; null: a random one per process (tokens die with it). */
  extendTokenSecret: string | null;
  /** Where the gateway serves the one-click extend page: PUBLIC_BASE_URL/extend. */
  extendPageUrl: string;
  /** How often the sweeper purges expired links, in chunks of this many, this many at once. */
  sweepIntervalMs: number;
  /** When the first sweep comes after start: one interval unless set. */
  sweepDelayMs: number;
  sweepChunk: number;
  sweepParallel: number;
  /** Links purged per second at most; 0: no limit. */
  sweepRate: number;
}

export const linkSettings = defineSettings(
  {
    LINK_METRICS_LISTEN: metricsListen.default('127.0.0.1:9461'),
    LINK_GRPC_LISTEN: address.default('127.0.0.1:50051'),
    LINK_DATABASE_URL: databaseUrl.optional(),
    LINK_CODE_LENGTH: integer(5, 16).default(7),
    LINK_MAX_URL_LENGTH: integer(64, 8_192).default(2_048),
    LINK_ALLOW_PRIVATE_TARGETS: boolean.default(false),
    LINK_CACHE_TTL: duration(1_000, 30 * 86_400_000).default(3_600_000),
    LINK_NEGATIVE_CACHE_TTL: duration(100, 86_400_000).default(30_000),
    RATE_LIMIT_CREATE_PER_PRINCIPAL: rate.default({ limit: 60, windowMs: 60_000 }),
    RATE_LIMIT_CREATE_PER_IP: rate.default({ limit: 300, windowMs: 60_000 }),
    LINK_LAST_ACCESS_INTERVAL: duration(0, 86_400_000).default(60_000),
    // --- Expiry ---
    LINK_IDLE_EXPIRY: duration(60_000, 3_650 * DAY).default(180 * DAY),
    LINK_EXTEND_DEFAULT: duration(60_000, 3_650 * DAY).default(30 * DAY),
    LINK_EXTEND_MAX: duration(60_000, 3_650 * DAY).default(365 * DAY),
    LINK_NOTICE_WINDOW: duration(60_000, 365 * DAY).default(7 * DAY),
    LINK_NOTICE_INTERVAL: duration(50, DAY).default(3_600_000),
    LINK_NOTICE_LEASE: duration(1_000, DAY).default(300_000),
    LINK_EXTEND_TOKEN_SECRET: z.string().min(32, 'at least 32 characters').optional(),
    // The gateway's public address, read here too: the notices' extend links point at it.
    PUBLIC_BASE_URL: z.url({ protocol: /^https?$/ }).optional(),
    LINK_SWEEP_INTERVAL: duration(50, DAY).default(60_000),
    LINK_SWEEP_DELAY: duration(0, DAY).optional(),
    LINK_SWEEP_CHUNK: integer(1, 10_000).default(50),
    LINK_SWEEP_PARALLEL: integer(1, 16).default(3),
    LINK_SWEEP_RATE: integer(0, 1_000_000).default(1_000),
  },
  (v, runtime): LinkConfig => ({
    listen: v.LINK_GRPC_LISTEN,
    metricsListen: v.LINK_METRICS_LISTEN,
    databaseUrl: v.LINK_DATABASE_URL ?? `sqlite:${runtime.dataDir}/link.sqlite`,
    codeLength: v.LINK_CODE_LENGTH,
    maxUrlLength: v.LINK_MAX_URL_LENGTH,
    allowPrivateTargets: v.LINK_ALLOW_PRIVATE_TARGETS,
    cacheTtlMs: v.LINK_CACHE_TTL,
    negativeCacheTtlMs: v.LINK_NEGATIVE_CACHE_TTL,
    createPerPrincipal: v.RATE_LIMIT_CREATE_PER_PRINCIPAL,
    createPerIp: v.RATE_LIMIT_CREATE_PER_IP,
    lastAccessIntervalMs: v.LINK_LAST_ACCESS_INTERVAL,
    expiry: {
      idleMs: v.LINK_IDLE_EXPIRY,
      extendDefaultMs: Math.min(v.LINK_EXTEND_DEFAULT, v.LINK_EXTEND_MAX),
      extendMaxMs: v.LINK_EXTEND_MAX,
      noticeWindowMs: v.LINK_NOTICE_WINDOW,
      noticeIntervalMs: v.LINK_NOTICE_INTERVAL,
      noticeLeaseMs: v.LINK_NOTICE_LEASE,
      extendTokenSecret: v.LINK_EXTEND_TOKEN_SECRET ?? null,
      extendPageUrl: `${(v.PUBLIC_BASE_URL ?? 'http://localhost:8080').replace(/\/+$/, '')}/extend`,
      sweepIntervalMs: v.LINK_SWEEP_INTERVAL,
      sweepDelayMs: v.LINK_SWEEP_DELAY ?? v.LINK_SWEEP_INTERVAL,
      sweepChunk: v.LINK_SWEEP_CHUNK,
      sweepParallel: v.LINK_SWEEP_PARALLEL,
      sweepRate: v.LINK_SWEEP_RATE,
    },
  }),
);
