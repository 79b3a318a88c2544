// The identity service's settings.
import { defineSettings } from '../../lib/config/load.ts';
import {
  address,
  databaseUrl,
  duration,
  metricsListen,
  type RateRule,
  rate,
  target,
} from '../../lib/config/parsers.ts';
import type { AccountRules } from './domain/members.ts';

export interface IdentityConfig {
  listen: string;
  /** Where GET /metrics is served (`off`: nowhere). */
  metricsListen: string;
  databaseUrl: string;
  guestTokenTtlMs: number;
  guestsPerIp: RateRule;
  /** Where identity dials the link service, to move adopted links and delete closed accounts' links. */
  linkTarget: string;
  accounts: AccountRules;
}

const DAY = 86_400_000;
const MINUTE = 60_000;

export const identitySettings = defineSettings(
  {
    IDENTITY_METRICS_LISTEN: metricsListen.default('127.0.0.1:9462'),
    IDENTITY_GRPC_LISTEN: address.default('127.0.0.1:50052'),
    IDENTITY_DATABASE_URL: databaseUrl.optional(),
    IDENTITY_LINK_GRPC_TARGET: target.default('127.0.0.1:50051'),
    GUEST_TOKEN_TTL: duration(1_000, 10 * 365 * DAY).default(365 * DAY),
    RATE_LIMIT_GUESTS_PER_IP: rate.default({ limit: 20, windowMs: 3_600_000 }),
    MEMBER_SESSION_TTL: duration(1_000, 365 * DAY).default(30 * DAY),
    PASSWORD_RESET_TTL: duration(1_000, DAY).default(30 * MINUTE),
    EMAIL_VERIFICATION_TTL: duration(1_000, 30 * DAY).default(2 * DAY),
    RATE_LIMIT_SIGNUPS_PER_IP: rate.default({ limit: 20, windowMs: 3_600_000 }),
    RATE_LIMIT_LOGIN_FAILURES_PER_EMAIL: rate.default({ limit: 5, windowMs: 15 * MINUTE }),
    RATE_LIMIT_LOGIN_FAILURES_PER_IP: rate.default({ limit: 50, windowMs: 15 * MINUTE }),
    RATE_LIMIT_PASSWORD_RESETS_PER_IP: rate.default({ limit: 10, windowMs: 3_600_000 }),
    RATE_LIMIT_PASSWORD_RESETS_PER_EMAIL: rate.default({ limit: 3, windowMs: 3_600_000 }),
  },
  (v, runtime): IdentityConfig => ({
    listen: v.IDENTITY_GRPC_LISTEN,
    metricsListen: v.IDENTITY_METRICS_LISTEN,
    databaseUrl: v.IDENTITY_DATABASE_URL ?? `sqlite:${runtime.dataDir}/identity.sqlite`,
    guestTokenTtlMs: v.GUEST_TOKEN_TTL,
    guestsPerIp: v.RATE_LIMIT_GUESTS_PER_IP,
    linkTarget: v.IDENTITY_LINK_GRPC_TARGET,
    accounts: {
      sessionTtlMs: v.MEMBER_SESSION_TTL,
      passwordResetTtlMs: v.PASSWORD_RESET_TTL,
      emailVerificationTtlMs: v.EMAIL_VERIFICATION_TTL,
      signUpsPerIp: v.RATE_LIMIT_SIGNUPS_PER_IP,
      loginFailuresPerEmail: v.RATE_LIMIT_LOGIN_FAILURES_PER_EMAIL,
      loginFailuresPerIp: v.RATE_LIMIT_LOGIN_FAILURES_PER_IP,
      passwordResetsPerIp: v.RATE_LIMIT_PASSWORD_RESETS_PER_IP,
      passwordResetsPerEmail: v.RATE_LIMIT_PASSWORD_RESETS_PER_EMAIL,
    },
  }),
);
