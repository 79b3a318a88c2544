// The identity service's settings.
import { defineSettings } from '../../lib/config/load.ts';
import { address, databaseUrl, duration, type RateRule, rate } from '../../lib/config/parsers.ts';

export interface IdentityConfig {
  listen: string;
  databaseUrl: string;
  guestTokenTtlMs: number;
  guestsPerIp: RateRule;
}

export const identitySettings = defineSettings(
  {
    IDENTITY_GRPC_LISTEN: address.default('127.0.0.1:50052'),
    IDENTITY_DATABASE_URL: databaseUrl.optional(),
    GUEST_TOKEN_TTL: duration(1_000, 10 * 365 * 86_400_000).default(365 * 86_400_000),
    RATE_LIMIT_GUESTS_PER_IP: rate.default({ limit: 20, windowMs: 3_600_000 }),
  },
  (v, runtime): IdentityConfig => ({
    listen: v.IDENTITY_GRPC_LISTEN,
    databaseUrl: v.IDENTITY_DATABASE_URL ?? `sqlite:${runtime.dataDir}/identity.sqlite`,
    guestTokenTtlMs: v.GUEST_TOKEN_TTL,
    guestsPerIp: v.RATE_LIMIT_GUESTS_PER_IP,
  }),
);
