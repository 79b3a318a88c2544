// The bus's contract besides the message bodies in proto/: which routing keys
// exist and which consumers listen to what. Services take their consumer from
// here, and deploy/rabbitmq/definitions.json is rendered from it, so the code
// and the broker's definitions cannot drift apart.
import type { ConsumerSpec, RetryPolicy, Topology } from './topology.ts';

/** Routing keys of the domain events, each with its body in proto/shortener/v1/events.proto. */
export const EVENTS = {
  /** shortener.v1.LinkClickedBatch, published by the gateway once per flush. */
  linkClicked: 'link.clicked',
  /** shortener.v1.PasswordResetRequested, published by identity; carries a raw token. */
  passwordResetRequested: 'identity.password_reset_requested',
  /** shortener.v1.EmailVerificationRequested, published by identity; carries a raw token. */
  emailVerificationRequested: 'identity.email_verification_requested',
  // --- Expiry (docs/decisions/0007-expiry.md) ---
  /** shortener.v1.LinkExpiring, published by link's notice scheduler once per link and expiry. */
  linkExpiring: 'link.expiring',
  /** shortener.v1.LinkExpired, published by link's sweeper once per purged link. */
  linkExpired: 'link.expired',
  // --- Operations (docs/decisions/0011-metrics-and-alerts.md) ---
  /** shortener.v1.OpsAlert, published by any service (lib/alerts/alerts.ts). */
  opsAlert: 'ops.alert',
} as const;

/**
 * Routing keys whose bodies carry a raw single-use token: only the notifier's
 * mailers may bind to them (test/services/notifier.test.ts checks).
 */
export const TOKEN_EVENTS: readonly string[] = [
  EVENTS.passwordResetRequested,
  EVENTS.emailVerificationRequested,
];

/** Every consumer of the bus (DESIGN.md, "Events and workers"), each with a queue of its own. */
export const CONSUMERS = {
  // The click pipeline.
  visitRecorder: { name: 'analytics.visit-recorder', routingKeys: [EVENTS.linkClicked] },
  rankingCounter: { name: 'analytics.ranking-counter', routingKeys: [EVENTS.linkClicked] },
  lastAccessToucher: { name: 'link.last-access-toucher', routingKeys: [EVENTS.linkClicked] },
  // The notifier's mailers: one queue per kind of mail, so a failing one never holds up the other.
  passwordResetMailer: {
    name: 'notifier.password-reset-mailer',
    routingKeys: [EVENTS.passwordResetRequested],
  },
  emailVerificationMailer: {
    name: 'notifier.email-verification-mailer',
    routingKeys: [EVENTS.emailVerificationRequested],
  },
  // --- Expiry (docs/decisions/0007-expiry.md) ---
  /** The notifier's expiry notices (mail and webhook): its queue holds them until it consumes. */
  expiryNotices: { name: 'notifier.expiry-notices', routingKeys: [EVENTS.linkExpiring] },
  /** Analytics keeps or drops a purged link's visits (ANALYTICS_EXPIRED_VISITS). */
  expiredLinks: { name: 'analytics.expired-links', routingKeys: [EVENTS.linkExpired] },
  // --- Operations (docs/decisions/0011-metrics-and-alerts.md) ---
  /** The notifier posts alerts to the ops webhook; its own dead letters raise no alert. */
  opsAlerts: { name: 'notifier.ops-alerts', routingKeys: [EVENTS.opsAlert] },
} as const satisfies Record<string, ConsumerSpec>;

export const DEFAULT_EXCHANGE = 'shortener.events';

/** The whole system's topology on one exchange, under one retry policy. */
export function systemTopology(exchange: string, retry: RetryPolicy): Topology {
  return { exchange, consumers: Object.values(CONSUMERS), retry };
}
