// Clicks leave the redirect path in batches: a redirect only appends its
// click here (no promise, no closure, nothing awaited), and the buffer
// publishes one message per batch — when it holds `maxBatch` clicks, or
// `flushMs` after the first click of a batch. One round of publishing is
// under way at a time; when clicks have piled up, a round sends up to
// `maxInFlight` messages at once, so the broker's confirm latency, not the
// redirect rate, is what one message at a time would cap.
//
// While publishing fails (the broker is down) the clicks stay, up to
// `capacity`; a click that arrives with the buffer full is dropped, counted
// and logged, never silently. A batch that failed goes back to the front and
// is retried with backoff, with the same event ids, so consumers count a
// click once however often its batch is sent. stop() publishes what is left.
//
// Dropping clicks is an alert until a batch is published again; so is a
// broker that has refused clicks for longer than the alert threshold.
import type { SpanContext } from '@opentelemetry/api';
import type { ClientInfo } from '../../gen/shortener/v1/principal.ts';
import type { Alerts } from '../../lib/alerts/alerts.ts';
import { type BackoffPolicy, backoffDelay } from '../../lib/backoff.ts';
import { type Logger, ThrottledLog } from '../../lib/log.ts';

export interface Click {
  /** Set when the click's batch is first published; kept across retries. */
  eventId: string;
  linkId: string;
  ownerId: string;
  code: string;
  /** ms since the epoch. */
  at: number;
  /** The HTTP client, as the redirect path already holds it (no copy per click). */
  client: ClientInfo | undefined;
  /** The redirect's span, when it is sampled: the click's publish links to it. */
  trace?: SpanContext;
}

/** Publishes one batch; resolves when the broker confirmed it, rejects otherwise. */
export type PublishClicks = (clicks: readonly Click[]) => Promise<void>;

export interface ClickBufferOptions {
  publish: PublishClicks;
  /** A fresh event id (a Snowflake id); throws when none can be issued now. */
  nextEventId: () => string;
  log: Logger;
  maxBatch?: number;
  flushMs?: number;
  /** Messages one round publishes at once, at most. */
  maxInFlight?: number;
  /** Clicks held at most while publishing fails. */
  capacity?: number;
  alerts?: Alerts;
}

/** What the alerts call this buffer and its broker. */
const ALERT_SUBJECT = 'gateway';
const BUS_SUBJECT = 'gateway:bus';

export interface ClickCounts {
  buffered: number;
  published: number;
  dropped: number;
  publishFailures: number;
}

/** Retrying a publish: quick first, at most every 5 s. */
const RETRY: BackoffPolicy = { initialMs: 100, maxMs: 5_000, jitter: 0.2 };

export class ClickBuffer {
  readonly #publish: PublishClicks;
  readonly #nextEventId: () => string;
  readonly #log: Logger;
  readonly #warnings: ThrottledLog;
  readonly #maxBatch: number;
  readonly #flushMs: number;
  readonly #maxInFlight: number;
  readonly #capacity: number;
  readonly #alerts: Alerts | undefined;
  #dropping = false;
  #clicks: Click[] = [];
  #timer: NodeJS.Timeout | undefined;
  #publishing: Promise<void> | undefined;
  #failures = 0;
  #stopped = false;
  readonly counts: ClickCounts = { buffered: 0, published: 0, dropped: 0, publishFailures: 0 };
  readonly #flushSoon = () => {
    this.#timer = undefined;
    this.#flush();
  };

  constructor(options: ClickBufferOptions) {
    this.#publish = options.publish;
    this.#nextEventId = options.nextEventId;
    this.#log = options.log;
    this.#warnings = new ThrottledLog(options.log);
    this.#maxBatch = options.maxBatch ?? 500;
    this.#flushMs = options.flushMs ?? 100;
    this.#maxInFlight = options.maxInFlight ?? 8;
    this.#capacity = options.capacity ?? 100_000;
    this.#alerts = options.alerts;
  }

  /** Takes one click; never blocks, never throws. */
  record(click: Click): void {
    if (this.#stopped) {
      this.counts.dropped++;
      this.#warnings.warn('stopped', {}, 'click after the buffer stopped: dropped');
      return;
    }
    if (this.#clicks.length >= this.#capacity) {
      this.counts.dropped++;
      if (!this.#dropping) {
        this.#dropping = true;
        this.#alerts?.fire(
          'clicks_dropped',
          ALERT_SUBJECT,
          `click buffer full (${this.#capacity} clicks): the broker is not taking clicks and new ones are dropped`,
        );
      }
      this.#warnings.warn(
        'full',
        { capacity: this.#capacity, dropped: this.counts.dropped },
        'click buffer full (the broker is not taking clicks): clicks dropped',
      );
      return;
    }
    this.#clicks.push(click);
    this.counts.buffered = this.#clicks.length;
    if (this.#publishing || this.#timer) return;
    if (this.#clicks.length >= this.#maxBatch) this.#flush();
    else this.#schedule(this.#flushMs);
  }

  /**
   * Publishes everything buffered, batch by batch, within budgetMs; what is
   * still unpublished then is counted as dropped and logged.
   */
  async stop(budgetMs: number): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const deadline = Date.now() + budgetMs;
    while (Date.now() < deadline) {
      await this.#publishing;
      if (this.#clicks.length === 0) break;
      const attempt = this.#publishNext();
      const waited = await Promise.race([
        attempt.then(() => true),
        new Promise<boolean>((resolve) => {
          const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()), false);
          timer.unref();
        }),
      ]);
      if (!waited) break;
      if (this.#failures > 0) {
        await new Promise((resolve) => setTimeout(resolve, Math.min(200, deadline - Date.now())));
      }
    }
    const left = this.#clicks.length;
    if (left > 0) {
      this.counts.dropped += left;
      this.#clicks = [];
      this.counts.buffered = 0;
      this.#log.error({ dropped: left }, 'clicks not published before stopping');
    }
  }

  #schedule(delayMs: number): void {
    this.#timer = setTimeout(this.#flushSoon, delayMs);
    this.#timer.unref();
  }

  #flush(): void {
    if (this.#publishing || this.#stopped || this.#clicks.length === 0) return;
    void this.#publishNext().then(() => {
      if (this.#stopped || this.#clicks.length === 0) return;
      if (this.#failures > 0) {
        this.#schedule(backoffDelay(this.#failures - 1, RETRY));
      } else if (this.#clicks.length >= this.#maxBatch) {
        this.#flush();
      } else {
        this.#schedule(this.#flushMs);
      }
    });
  }

  /** Publishes the oldest batches; those that fail stay at the front. Never rejects. */
  #publishNext(): Promise<void> {
    const attempt = this.#attempt(this.#clicks.slice(0, this.#maxBatch * this.#maxInFlight));
    this.#publishing = attempt;
    return attempt.finally(() => {
      if (this.#publishing === attempt) this.#publishing = undefined;
      this.counts.buffered = this.#clicks.length;
    });
  }

  async #attempt(taken: Click[]): Promise<void> {
    const batches: Click[][] = [];
    for (let i = 0; i < taken.length; i += this.#maxBatch) {
      batches.push(taken.slice(i, i + this.#maxBatch));
    }
    let kept: Click[] = [];
    let failure: unknown;
    try {
      for (const click of taken) if (!click.eventId) click.eventId = this.#nextEventId();
      const outcomes = await Promise.allSettled(batches.map((batch) => this.#publish(batch)));
      outcomes.forEach((outcome, i) => {
        if (outcome.status === 'fulfilled') return;
        kept = kept.concat(batches[i] ?? []);
        failure ??= outcome.reason;
      });
    } catch (error) {
      // No event id could be issued: nothing was sent.
      kept = taken;
      failure = error;
    }
    // Clicks recorded meanwhile are behind the ones taken; failed batches go back in front.
    this.#clicks = kept.concat(this.#clicks.slice(taken.length));
    this.counts.published += taken.length - kept.length;
    if (failure === undefined) {
      if (this.#failures > 0) {
        this.#log.info({ buffered: this.#clicks.length }, 'clicks are published again');
        this.#alerts?.dependencyWorks(BUS_SUBJECT);
      }
      if (this.#dropping) {
        this.#dropping = false;
        this.#alerts?.resolve(
          'clicks_dropped',
          ALERT_SUBJECT,
          `clicks are published again (${this.counts.dropped} dropped in all)`,
        );
      }
      this.#failures = 0;
      return;
    }
    this.#alerts?.dependencyFailing(BUS_SUBJECT, (failure as Error).message);
    this.#failures++;
    this.counts.publishFailures++;
    this.#warnings.warn(
      'publish',
      { cause: (failure as Error).message, buffered: this.#clicks.length },
      'clicks could not be published; kept and retried',
    );
  }
}
