// The visit recorder: what the `link.clicked` consumer calls with each batch
// of clicks. It returns once the batch is durable (the consumer acks then),
// and recording the same batch again changes nothing: visits are keyed by
// event id and only newly stored visits move the rollups and unique counts.
import type { VisitStore } from '../store/visit-store.ts';
import type { Click } from './click.ts';
import { dayOf } from './days.ts';
import { toVisit, type VisitPolicy } from './visits.ts';

/** Salts of this many recent days are kept in memory: a salt never changes once made. */
const SALT_CACHE_DAYS = 4;

export interface RecordOutcome {
  /** Clicks stored now. */
  recorded: number;
  /** Clicks whose event id was recorded before (redeliveries). */
  duplicates: number;
}

export class VisitRecorder {
  readonly #store: VisitStore;
  readonly #policy: VisitPolicy;
  readonly #salts = new Map<number, string>();

  constructor(store: VisitStore, policy: VisitPolicy) {
    this.#store = store;
    this.#policy = policy;
  }

  /** Stores the batch's visits in one transaction; resolves when it is durable. */
  async record(clicks: readonly Click[]): Promise<RecordOutcome> {
    if (clicks.length === 0) return { recorded: 0, duplicates: 0 };
    const salts = await this.#saltsFor(clicks.map((click) => dayOf(click.at.getTime())));
    const visits = clicks.map((click) => {
      const salt = salts.get(dayOf(click.at.getTime())) ?? '';
      return toVisit(click, this.#policy, salt);
    });
    const recorded = await this.#store.record(visits);
    return { recorded: recorded.length, duplicates: clicks.length - recorded.length };
  }

  async #saltsFor(days: number[]): Promise<Map<number, string>> {
    const wanted = [...new Set(days)];
    const missing = wanted.filter((day) => !this.#salts.has(day));
    const fetched = await this.#store.salts(missing);
    const salts = new Map<number, string>(fetched);
    for (const day of wanted) {
      const cached = this.#salts.get(day);
      if (cached !== undefined) salts.set(day, cached);
    }
    for (const [day, salt] of fetched) this.#salts.set(day, salt);
    const newest = Math.max(...this.#salts.keys());
    for (const day of this.#salts.keys()) {
      if (day <= newest - SALT_CACHE_DAYS) this.#salts.delete(day);
    }
    return salts;
  }
}
