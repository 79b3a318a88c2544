// Posting operations alerts to the ops webhook, once per outage across every
// notifier instance (docs/decisions/0011-metrics-and-alerts.md):
// - a FIRING alert is posted if its fingerprint (kind + subject) is not open
//   in the shared ledger; opening it is atomic, so of many instances handling
//   copies of the same alert one posts and the rest see a duplicate; once the
//   window has passed, a still-firing alert is posted again as a reminder;
// - a RESOLVED alert is posted by whoever closes the fingerprint, and only if
//   a FIRING one was posted: an outage is one alert and one "resolved";
// - posts across all fingerprints are rate limited in the shared limiter, so
//   a storm of different alerts stays a handful of messages.
// A post that fails puts the ledger back as it was and throws: the bus
// retries with backoff and at last parks the alert (that raises no alert).
import { AlertState, type OpsAlert } from '../../../gen/shortener/v1/events.ts';
import type { AlertLedger } from '../../../lib/alerts/ledger.ts';
import type { RateRule } from '../../../lib/config/parsers.ts';
import type { RateLimiter } from '../../../lib/limiter/limiter.ts';
import type { Logger } from '../../../lib/log.ts';
import type { Metrics } from '../../../lib/metrics/metrics.ts';
import type { Webhook } from '../webhook/webhook.ts';

export interface AlertDeliveryOptions {
  /** Where alerts go; undefined: they are only logged. */
  hook: Webhook | undefined;
  ledger: AlertLedger;
  limiter: RateLimiter;
  rate: RateRule;
  windowMs: number;
  log: Logger;
  metrics?: Metrics;
  now?: () => number;
}

export type AlertOutcome = 'posted' | 'duplicate' | 'rate_limited' | 'not_firing' | 'no_webhook';

/** The text a person reads in the channel. */
export function alertText(alert: OpsAlert): string {
  const resolved = alert.state === AlertState.ALERT_STATE_RESOLVED;
  const head = resolved
    ? `:white_check_mark: RESOLVED ${alert.kind} ${alert.subject}`
    : `:rotating_light: FIRING ${alert.kind} ${alert.subject}`;
  const at = alert.raisedAt ? ` at ${alert.raisedAt.toISOString()}` : '';
  return `${head}\n${alert.summary}\n(${alert.service} on ${alert.instance}${at})`;
}

export class AlertDelivery {
  readonly #options: AlertDeliveryOptions;
  readonly #now: () => number;

  constructor(options: AlertDeliveryOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  async deliver(alert: OpsAlert): Promise<AlertOutcome> {
    const outcome = await this.#deliver(alert);
    const { metrics, log } = this.#options;
    if (outcome === 'posted') {
      metrics?.alertsPosted.inc({ state: resolvedState(alert) ? 'resolved' : 'firing' });
    } else {
      metrics?.alertsSuppressed.inc({ reason: outcome });
      log.debug({ fingerprint: alert.fingerprint, outcome }, 'alert not posted');
    }
    return outcome;
  }

  async #deliver(alert: OpsAlert): Promise<AlertOutcome> {
    const { hook, ledger, log } = this.#options;
    const text = alertText(alert);
    if (!hook) {
      log.warn(
        { alert: alert.kind, subject: alert.subject },
        `no alert webhook (NOTIFIER_ALERT_WEBHOOK_URL): ${text}`,
      );
      return 'no_webhook';
    }
    const fingerprint = alert.fingerprint || `${alert.kind}/${alert.subject}`;
    const now = this.#now();
    if (resolvedState(alert)) {
      if (!(await ledger.close(fingerprint))) return 'not_firing';
      await this.#post(hook, text, () =>
        ledger.open(fingerprint, now, now + this.#options.windowMs),
      );
      return 'posted';
    }
    if (!(await ledger.open(fingerprint, now, now + this.#options.windowMs))) return 'duplicate';
    const budget = await this.#options.limiter.consume('ops-alerts', this.#options.rate, 'webhook');
    if (!budget.allowed) {
      // Not posted: neither is its "resolved", and a later repeat may be.
      await ledger.close(fingerprint);
      log.warn({ fingerprint }, 'alert rate limit reached (NOTIFIER_ALERT_RATE): alert not posted');
      return 'rate_limited';
    }
    await this.#post(hook, text, () => ledger.close(fingerprint));
    return 'posted';
  }

  /** Posts; on failure undoes the ledger's change, so the bus's retry tries again. */
  async #post(hook: Webhook, text: string, undo: () => Promise<unknown>): Promise<void> {
    try {
      await hook.post(text);
    } catch (error) {
      await undo().catch(() => {});
      throw error;
    }
  }
}

function resolvedState(alert: OpsAlert): boolean {
  return alert.state === AlertState.ALERT_STATE_RESOLVED;
}
