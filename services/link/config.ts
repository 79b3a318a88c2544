// The link service's settings.
import { defineSettings } from '../../lib/config/load.ts';
import {
  address,
  boolean,
  databaseUrl,
  duration,
  integer,
  type RateRule,
  rate,
} from '../../lib/config/parsers.ts';

export interface LinkConfig {
  listen: string;
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
}

export const linkSettings = defineSettings(
  {
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
  },
  (v, runtime): LinkConfig => ({
    listen: v.LINK_GRPC_LISTEN,
    databaseUrl: v.LINK_DATABASE_URL ?? `sqlite:${runtime.dataDir}/link.sqlite`,
    codeLength: v.LINK_CODE_LENGTH,
    maxUrlLength: v.LINK_MAX_URL_LENGTH,
    allowPrivateTargets: v.LINK_ALLOW_PRIVATE_TARGETS,
    cacheTtlMs: v.LINK_CACHE_TTL,
    negativeCacheTtlMs: v.LINK_NEGATIVE_CACHE_TTL,
    createPerPrincipal: v.RATE_LIMIT_CREATE_PER_PRINCIPAL,
    createPerIp: v.RATE_LIMIT_CREATE_PER_IP,
    lastAccessIntervalMs: v.LINK_LAST_ACCESS_INTERVAL,
  }),
);
