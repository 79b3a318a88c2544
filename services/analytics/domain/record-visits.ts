// The visit recorder: what the `link.clicked` consumer calls with each batch
// of clicks. It returns once the batch is durable (the consumer acks then),
// and recording the same batch again changes nothing: visits are keyed by
// event id and only newly stored visits move the rollups and visitor counts.
//
// Visitors are told apart by a hash of address and user agent under one
// random salt, shared by every replica; the hash goes only into the day's
// visitor sketch (visitor-sketch.ts), from which no address can be told back.
import type { VisitStore } from '../store/visit-store.ts';
import type { Click } from './click.ts';
import { toVisit, type VisitPolicy } from './visits.ts';

export interface RecordOutcome {
  /** Clicks stored now. */
  recorded: number;
  /** Clicks whose event id was recorded before (redeliveries). */
  duplicates: number;
}

export class VisitRecorder {
  readonly #store: VisitStore;
  readonly #policy: VisitPolicy;
  /** The salt never changes once made: asked once per process. */
  #salt: Promise<string> | undefined;

  constructor(store: VisitStore, policy: VisitPolicy) {
    this.#store = store;
    this.#policy = policy;
  }

  /** Stores the batch's visits in one transaction; resolves when it is durable. */
  async record(clicks: readonly Click[]): Promise<RecordOutcome> {
    if (clicks.length === 0) return { recorded: 0, duplicates: 0 };
    const salt = await this.#saltOnce();
    const visits = clicks.map((click) => toVisit(click, this.#policy, salt));
    const recorded = await this.#store.record(visits);
    return { recorded: recorded.length, duplicates: clicks.length - recorded.length };
  }

  #saltOnce(): Promise<string> {
    this.#salt ??= this.#store.visitorSalt().catch((error: unknown) => {
      this.#salt = undefined;
      throw error;
    });
    return this.#salt;
  }
}
