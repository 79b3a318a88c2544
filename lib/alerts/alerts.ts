// Alerts are raised from here and nowhere else: the error-level paths that
// already log (a dead-lettered message, dropped clicks, a dependency down, a
// lost worker-id lease) call this, and it publishes an `ops.alert` event on
// the bus for the notifier to post (services/notifier/domain/deliver-alert.ts).
//
// Two shapes. A condition (clicks being dropped, a dependency down, a lease
// lost) is published once when it starts to hold and once, as RESOLVED, when
// it clears: the raiser knows when it clears, so "resolved" comes from it,
// not from a quiet period. An event (a dead letter) is published every time;
// the notifier deduplicates by fingerprint within its window. Publishing is
// fire and forget: the bus may be what is failing, and an alert must never
// fail or slow the path that raised it.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { AlertState, OpsAlert } from '../../gen/shortener/v1/events.ts';
import { EVENTS } from '../bus/catalog.ts';
import { type Logger, ThrottledLog } from '../log.ts';
import type { Metrics } from '../metrics/metrics.ts';

export type AlertKind =
  | 'dead_letter'
  | 'clicks_dropped'
  | 'dependency_down'
  | 'worker_id_lease_lost';

export type PublishAlert = (
  routingKey: string,
  body: Uint8Array,
  options: { timeoutMs: number },
) => Promise<void>;

export interface AlertsOptions {
  publish: PublishAlert;
  /** The process that raises: `link`, `gateway`, `mesh`. */
  service: string;
  log: Logger;
  metrics?: Metrics;
  /** How long a dependency may fail before it is an alert. */
  dependencyThresholdMs: number;
  now?: () => number;
}

/** An alert waits at most this long for the broker: it is not worth holding memory for. */
const PUBLISH_TIMEOUT_MS = 5_000;

export function fingerprintOf(kind: string, subject: string): string {
  return `${kind}/${subject}`;
}

export class Alerts {
  readonly #options: AlertsOptions;
  readonly #instance = `${hostname()}:${process.pid}`;
  readonly #warnings: ThrottledLog;
  readonly #holding = new Set<string>();
  readonly #failing = new Map<string, NodeJS.Timeout>();
  readonly #now: () => number;

  constructor(options: AlertsOptions) {
    this.#options = options;
    this.#warnings = new ThrottledLog(options.log);
    this.#now = options.now ?? Date.now;
  }

  /** An event a person must see (a dead letter): published every time it happens. */
  event(kind: AlertKind, subject: string, summary: string): void {
    this.#publish(kind, subject, AlertState.ALERT_STATE_FIRING, summary);
  }

  /** A condition starts to hold: published once, until it clears. */
  fire(kind: AlertKind, subject: string, summary: string): void {
    const fingerprint = fingerprintOf(kind, subject);
    if (this.#holding.has(fingerprint)) return;
    this.#holding.add(fingerprint);
    this.#publish(kind, subject, AlertState.ALERT_STATE_FIRING, summary);
  }

  /** The condition cleared: RESOLVED, if it was fired here. */
  resolve(kind: AlertKind, subject: string, summary: string): void {
    if (!this.#holding.delete(fingerprintOf(kind, subject))) return;
    this.#publish(kind, subject, AlertState.ALERT_STATE_RESOLVED, summary);
  }

  /** A dependency failed; an alert once it has failed for the threshold without working again. */
  dependencyFailing(subject: string, cause: string): void {
    if (this.#failing.has(subject)) return;
    const timer = setTimeout(() => {
      const seconds = Math.round(this.#options.dependencyThresholdMs / 1_000);
      this.fire('dependency_down', subject, `${subject} failing for over ${seconds} s: ${cause}`);
    }, this.#options.dependencyThresholdMs);
    timer.unref();
    this.#failing.set(subject, timer);
  }

  dependencyWorks(subject: string): void {
    const timer = this.#failing.get(subject);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.#failing.delete(subject);
    this.resolve('dependency_down', subject, `${subject} works again`);
  }

  /** Stops watching dependencies (the process is stopping: that is no outage). */
  close(): void {
    for (const timer of this.#failing.values()) clearTimeout(timer);
    this.#failing.clear();
  }

  #publish(kind: AlertKind, subject: string, state: AlertState, summary: string): void {
    const { service, metrics, log } = this.#options;
    const firing = state === AlertState.ALERT_STATE_FIRING;
    metrics?.alertsRaised.inc({ kind, state: firing ? 'firing' : 'resolved' });
    log[firing ? 'error' : 'info'](
      { alert: kind, subject },
      `alert ${firing ? 'firing' : 'resolved'}: ${summary}`,
    );
    const body = OpsAlert.encode({
      eventId: randomBytes(16).toString('hex'),
      kind,
      subject,
      fingerprint: fingerprintOf(kind, subject),
      state,
      summary,
      service,
      instance: this.#instance,
      raisedAt: new Date(this.#now()),
    }).finish();
    this.#options
      .publish(EVENTS.opsAlert, body, { timeoutMs: PUBLISH_TIMEOUT_MS })
      .catch((error: unknown) => {
        this.#warnings.warn(
          'publish',
          { alert: kind, subject, cause: (error as Error).message },
          'alert could not be published (the bus is not taking messages)',
        );
      });
  }
}
