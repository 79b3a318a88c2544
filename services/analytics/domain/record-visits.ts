// The visit recorder: what the `link.clicked` consumer calls with each batch
// of clicks. It returns once the batch is durable (the consumer acks then),
// and recording the same batch again changes nothing: visits are keyed by
// event id and only newly stored visits move the rollups and unique counts.
//
// Distinct visitors are counted per day with a salt made for that day; the
// salts and hashes of days before yesterday are forgotten, so they cannot be
// searched back to addresses. A day's unique count is final from then on: a
// click arriving later still than that is recorded and rolled up, but counts
// no visitor.
import type { VisitStore } from '../store/visit-store.ts';
import type { Click } from './click.ts';
import { dayOf } from './days.ts';
import { toVisit, type VisitPolicy } from './visits.ts';

/** Visitors are told apart for this many days (today and yesterday), then forgotten. */
export const VISITOR_DAYS = 2;

export interface RecordOutcome {
  /** Clicks stored now. */
  recorded: number;
  /** Clicks whose event id was recorded before (redeliveries). */
  duplicates: number;
}

export class VisitRecorder {
  readonly #store: VisitStore;
  readonly #policy: VisitPolicy;
  readonly #now: () => number;
  /** Salts of the days still counted: a salt never changes once made. */
  readonly #salts = new Map<number, string>();
  /** The oldest day whose visitors are known to be kept (older ones are forgotten). */
  #oldestKept = Number.NEGATIVE_INFINITY;

  constructor(store: VisitStore, policy: VisitPolicy, now: () => number = Date.now) {
    this.#store = store;
    this.#policy = policy;
    this.#now = now;
  }

  /** Stores the batch's visits in one transaction; resolves when it is durable. */
  async record(clicks: readonly Click[]): Promise<RecordOutcome> {
    if (clicks.length === 0) return { recorded: 0, duplicates: 0 };
    const oldest = dayOf(this.#now()) - VISITOR_DAYS + 1;
    await this.#forgetBefore(oldest);
    const days = clicks.map((click) => dayOf(click.at.getTime()));
    const salts = await this.#saltsFor(days.filter((day) => day >= oldest));
    const visits = clicks.map((click, i) => toVisit(click, this.#policy, salts.get(days[i] ?? 0)));
    const recorded = await this.#store.record(visits);
    return { recorded: recorded.length, duplicates: clicks.length - recorded.length };
  }

  async #saltsFor(days: number[]): Promise<Map<number, string>> {
    const missing = [...new Set(days)].filter((day) => !this.#salts.has(day));
    for (const [day, salt] of await this.#store.salts(missing)) this.#salts.set(day, salt);
    return this.#salts;
  }

  /** Once a day (per process), forgets the visitors of the day that has just left the window. */
  async #forgetBefore(oldest: number): Promise<void> {
    if (oldest <= this.#oldestKept) return;
    await this.#store.forgetVisitorsBefore(oldest);
    this.#oldestKept = oldest;
    for (const day of this.#salts.keys()) if (day < oldest) this.#salts.delete(day);
  }
}
