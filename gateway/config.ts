// The gateway's settings. It dials each service at the default address of
// that service unless told otherwise; the one-process mesh points it at the
// addresses the services actually bound.
import { z } from 'zod';
import { defineSettings } from '../lib/config/load.ts';
import {
  address,
  boolean,
  dialable,
  duration,
  integer,
  metricsListen,
  target,
} from '../lib/config/parsers.ts';

export interface GatewayConfig {
  listen: string;
  /** Where GET /metrics is served (`off`: nowhere). */
  metricsListen: string;
  publicBaseUrl: string;
  linkTarget: string;
  identityTarget: string;
  analyticsTarget: string;
  trustedProxies: number;
  bodyLimitBytes: number;
  headerLimitBytes: number;
  /** How long a client may take to send a whole request (408 beyond). */
  requestTimeoutMs: number;
  /** How long a stopping gateway keeps serving with /readyz failing before it turns requests away. */
  drainDelayMs: number;
  nearCacheSize: number;
  nearCacheTtlMs: number;
  /** Authentications kept at most; 0 turns the cache off. */
  authCacheSize: number;
  /** How long an authentication is kept at most, even if no revocation is heard. */
  authCacheTtlMs: number;
  clicks: {
    /** Whether GET redirects are recorded as clicks on the bus. */
    record: boolean;
    batchSize: number;
    flushMs: number;
    /** Clicks held at most while the bus does not take them. */
    capacity: number;
  };
  /**
   * Event-loop utilization (0–1) at which the gateway tells consumers on its
   * node to hold back (lib/bus/yielding.ts).
   */
  busyUtilization: number;
}

export const gatewaySettings = defineSettings(
  {
    GATEWAY_LISTEN: address.default('127.0.0.1:8080'),
    GATEWAY_METRICS_LISTEN: metricsListen.default('127.0.0.1:9460'),
    PUBLIC_BASE_URL: z.url({ protocol: /^https?$/ }).optional(),
    LINK_GRPC_TARGET: target.default('127.0.0.1:50051'),
    IDENTITY_GRPC_TARGET: target.default('127.0.0.1:50052'),
    ANALYTICS_GRPC_TARGET: target.default('127.0.0.1:50053'),
    TRUSTED_PROXIES: integer(0, 16).default(0),
    GATEWAY_BODY_LIMIT: integer(1_024, 1_048_576).default(16_384),
    GATEWAY_HEADER_LIMIT: integer(1_024, 65_536).default(16_384),
    GATEWAY_REQUEST_TIMEOUT: duration(100, 600_000).default(30_000),
    GATEWAY_DRAIN_DELAY: duration(0, 300_000).default(0),
    NEAR_CACHE_SIZE: integer(0, 10_000_000).default(100_000),
    NEAR_CACHE_TTL: duration(100, 3_600_000).default(30_000),
    AUTH_CACHE_SIZE: integer(0, 10_000_000).default(10_000),
    AUTH_CACHE_TTL: duration(0, 3_600_000).default(30_000),
    CLICKS_RECORD: boolean.default(true),
    CLICKS_BATCH_SIZE: integer(1, 10_000).default(500),
    CLICKS_FLUSH_INTERVAL: duration(1, 60_000).default(100),
    CLICKS_BUFFER_CAPACITY: integer(1, 10_000_000).default(100_000),
    GATEWAY_BUSY_UTILIZATION: integer(1, 100).default(80),
  },
  (v): GatewayConfig => {
    const ownUrl = `http://${dialable(v.GATEWAY_LISTEN).replace(/^127\.0\.0\.1:/, 'localhost:')}`;
    return {
      listen: v.GATEWAY_LISTEN,
      metricsListen: v.GATEWAY_METRICS_LISTEN,
      publicBaseUrl: (v.PUBLIC_BASE_URL ?? ownUrl).replace(/\/+$/, ''),
      linkTarget: v.LINK_GRPC_TARGET,
      identityTarget: v.IDENTITY_GRPC_TARGET,
      analyticsTarget: v.ANALYTICS_GRPC_TARGET,
      trustedProxies: v.TRUSTED_PROXIES,
      bodyLimitBytes: v.GATEWAY_BODY_LIMIT,
      headerLimitBytes: v.GATEWAY_HEADER_LIMIT,
      requestTimeoutMs: v.GATEWAY_REQUEST_TIMEOUT,
      drainDelayMs: v.GATEWAY_DRAIN_DELAY,
      nearCacheSize: v.NEAR_CACHE_SIZE,
      nearCacheTtlMs: v.NEAR_CACHE_TTL,
      authCacheSize: v.AUTH_CACHE_SIZE,
      authCacheTtlMs: v.AUTH_CACHE_TTL,
      clicks: {
        record: v.CLICKS_RECORD,
        batchSize: v.CLICKS_BATCH_SIZE,
        flushMs: v.CLICKS_FLUSH_INTERVAL,
        capacity: v.CLICKS_BUFFER_CAPACITY,
      },
      busyUtilization: v.GATEWAY_BUSY_UTILIZATION / 100,
    };
  },
);
