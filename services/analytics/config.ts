// The analytics service's settings.
import { z } from 'zod';
import { defineSettings } from '../../lib/config/load.ts';
import {
  address,
  databaseUrl,
  duration,
  integer,
  metricsListen,
  target,
} from '../../lib/config/parsers.ts';
import type { AddressPrefixes } from './domain/client-address.ts';

export interface AnalyticsConfig {
  listen: string;
  /** Where GET /metrics is served (`off`: nowhere). */
  metricsListen: string;
  databaseUrl: string;
  /** A read replica of it, where owners' reads (stats, visit lists) go; null: the database itself. */
  databaseReplicaUrl: string | null;
  /** Where analytics dials the link service, which decides who owns which link. */
  linkTarget: string;
  prefixes: AddressPrefixes;
  topLinksCacheTtlMs: number;
  rankingDedupHorizonMs: number;
  /** What becomes of a purged link's visits and daily rollups: kept, or dropped at once. */
  expiredVisits: 'keep' | 'drop';
}

export const analyticsSettings = defineSettings(
  {
    ANALYTICS_METRICS_LISTEN: metricsListen.default('127.0.0.1:9463'),
    ANALYTICS_GRPC_LISTEN: address.default('127.0.0.1:50053'),
    ANALYTICS_DATABASE_URL: databaseUrl.optional(),
    ANALYTICS_DATABASE_REPLICA_URL: databaseUrl
      .refine((v) => v.startsWith('mysql://'), 'expected mysql://…, a read replica of the database')
      .optional(),
    ANALYTICS_LINK_GRPC_TARGET: target.default('127.0.0.1:50051'),
    ANALYTICS_IPV4_PREFIX: integer(0, 32).default(24),
    ANALYTICS_IPV6_PREFIX: integer(0, 128).default(48),
    ANALYTICS_TOP_LINKS_CACHE_TTL: duration(0, 60_000).default(1_000),
    ANALYTICS_RANKING_DEDUP_HORIZON: duration(60_000, 86_400_000).default(15 * 60_000),
    ANALYTICS_EXPIRED_VISITS: z.enum(['keep', 'drop']).default('keep'),
  },
  (v, runtime): AnalyticsConfig => ({
    listen: v.ANALYTICS_GRPC_LISTEN,
    metricsListen: v.ANALYTICS_METRICS_LISTEN,
    databaseUrl: v.ANALYTICS_DATABASE_URL ?? `sqlite:${runtime.dataDir}/analytics.sqlite`,
    databaseReplicaUrl: v.ANALYTICS_DATABASE_REPLICA_URL ?? null,
    linkTarget: v.ANALYTICS_LINK_GRPC_TARGET,
    prefixes: { ipv4: v.ANALYTICS_IPV4_PREFIX, ipv6: v.ANALYTICS_IPV6_PREFIX },
    topLinksCacheTtlMs: v.ANALYTICS_TOP_LINKS_CACHE_TTL,
    rankingDedupHorizonMs: v.ANALYTICS_RANKING_DEDUP_HORIZON,
    expiredVisits: v.ANALYTICS_EXPIRED_VISITS,
  }),
);
