// The notifier's settings. With no SMTP server named (the embedded default)
// every mail is written as an .eml file into the outbox folder instead; with
// no webhook named, expiry notices go by mail only.
import { z } from 'zod';
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

export interface NotifierConfig {
  listen: string;
  /** Where GET /metrics is served (`off`: nowhere). */
  metricsListen: string;
  databaseUrl: string;
  /**
   * The gateway's public address, which the mailed links point at; unset means
   * the gateway's own default (the one-process mesh passes the gateway's).
   */
  publicBaseUrl: string | undefined;
  /** Empty: no SMTP server, mail goes to the outbox folder. */
  smtpUrl: string;
  /** Bound on connecting to, and on each reply of, the SMTP server. */
  smtpTimeoutMs: number;
  /** The From of every mail. */
  from: string;
  outboxDir: string;
  /** Where the notifier dials identity, to ask a link owner's address (expiry notices). */
  identityTarget: string;
  /** A Slack-compatible incoming webhook that also gets every expiry notice; empty: none. */
  webhookUrl: string;
  alerts: {
    /** A Slack-compatible incoming webhook for operations alerts; empty: alerts are only logged. */
    webhookUrl: string;
    /** An alert still firing is posted again after this long; a repeat within it is a duplicate. */
    windowMs: number;
    /** Posts at most, across every notifier instance: a storm of different alerts stays readable. */
    rate: RateRule;
  };
}

/** What the gateway answers at when PUBLIC_BASE_URL and GATEWAY_LISTEN are left alone. */
export const DEFAULT_PUBLIC_BASE_URL = 'http://localhost:8080';

export const notifierSettings = defineSettings(
  {
    NOTIFIER_METRICS_LISTEN: metricsListen.default('127.0.0.1:9464'),
    NOTIFIER_GRPC_LISTEN: address.default('127.0.0.1:50054'),
    NOTIFIER_DATABASE_URL: databaseUrl.optional(),
    NOTIFIER_PUBLIC_BASE_URL: z.url({ protocol: /^https?$/ }).optional(),
    NOTIFIER_SMTP_URL: z
      .string()
      .refine(
        (v) => v === '' || /^smtps?:\/\/[^/?#]+(\/?)(\?.*)?$/.test(v),
        'expected smtp://[user:password@]host:port or smtps://…',
      )
      .default(''),
    NOTIFIER_SMTP_TIMEOUT: duration(100, 600_000).default(10_000),
    NOTIFIER_MAIL_FROM: z
      .string()
      .regex(
        /^([^<>\r\n]*<[^<>\s@]+@[^<>\s@]+>|[^<>\s@]+@[^<>\s@]+)$/,
        'expected an address, e.g. Shortener <no-reply@example.com>',
      )
      .default('Shortener <no-reply@localhost>'),
    NOTIFIER_OUTBOX_DIR: z.string().min(1).optional(),
    NOTIFIER_IDENTITY_GRPC_TARGET: target.default('127.0.0.1:50052'),
    NOTIFIER_WEBHOOK_URL: z.union([z.literal(''), z.url({ protocol: /^https?$/ })]).default(''),
    NOTIFIER_ALERT_WEBHOOK_URL: z
      .union([z.literal(''), z.url({ protocol: /^https?$/ })])
      .default(''),
    NOTIFIER_ALERT_WINDOW: duration(1_000, 7 * 86_400_000).default(3_600_000),
    NOTIFIER_ALERT_RATE: rate.default({ limit: 20, windowMs: 600_000 }),
  },
  (v, runtime): NotifierConfig => ({
    listen: v.NOTIFIER_GRPC_LISTEN,
    metricsListen: v.NOTIFIER_METRICS_LISTEN,
    databaseUrl: v.NOTIFIER_DATABASE_URL ?? `sqlite:${runtime.dataDir}/notifier.sqlite`,
    publicBaseUrl: v.NOTIFIER_PUBLIC_BASE_URL?.replace(/\/+$/, ''),
    smtpUrl: v.NOTIFIER_SMTP_URL,
    smtpTimeoutMs: v.NOTIFIER_SMTP_TIMEOUT,
    from: v.NOTIFIER_MAIL_FROM,
    outboxDir: v.NOTIFIER_OUTBOX_DIR ?? `${runtime.dataDir}/outbox`,
    identityTarget: v.NOTIFIER_IDENTITY_GRPC_TARGET,
    webhookUrl: v.NOTIFIER_WEBHOOK_URL,
    alerts: {
      webhookUrl: v.NOTIFIER_ALERT_WEBHOOK_URL,
      windowMs: v.NOTIFIER_ALERT_WINDOW,
      rate: v.NOTIFIER_ALERT_RATE,
    },
  }),
);
