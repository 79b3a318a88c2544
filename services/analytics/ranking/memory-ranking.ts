// The embedded mesh's ranking: buckets and remembered event ids in maps,
// dropped as they leave their window or horizon.
import {
  bucketEndsAt,
  bucketsOf,
  byVisits,
  countable,
  type LinkRef,
  linkOfMember,
  memberOf,
  RANKING_WINDOWS,
  type RankedClick,
  type RankedLink,
  type Ranking,
  type RankingWindow,
  SEEN_SLOT_MS,
  WINDOW_NAMES,
} from './ranking.ts';

export class MemoryRanking implements Ranking {
  readonly #now: () => number;
  readonly #horizonMs: number;
  /** `<window>:<bucket>` → member → visits. */
  readonly #buckets = new Map<string, { endsAt: number; counts: Map<string, number> }>();
  /** Minute slot → event ids seen with a click time in it. */
  readonly #seen = new Map<number, Set<string>>();

  constructor(options: { dedupHorizonMs: number; now?: () => number }) {
    this.#horizonMs = options.dedupHorizonMs;
    this.#now = options.now ?? Date.now;
  }

  async record(clicks: readonly RankedClick[]): Promise<number> {
    const now = this.#now();
    this.#forget(now);
    let counted = 0;
    for (const click of clicks) {
      if (!countable(click, now, this.#horizonMs)) continue;
      const slot = Math.floor(click.at / SEEN_SLOT_MS);
      const seen = this.#seen.get(slot) ?? new Set<string>();
      this.#seen.set(slot, seen);
      if (seen.has(click.eventId)) continue;
      seen.add(click.eventId);
      counted++;
      const member = memberOf(click);
      for (const window of WINDOW_NAMES) {
        const bucket = Math.floor(click.at / RANKING_WINDOWS[window].bucketMs);
        const key = `${window}:${bucket}`;
        const entry = this.#buckets.get(key) ?? {
          endsAt: bucketEndsAt(window, bucket),
          counts: new Map<string, number>(),
        };
        this.#buckets.set(key, entry);
        entry.counts.set(member, (entry.counts.get(member) ?? 0) + 1);
      }
    }
    return counted;
  }

  async top(window: RankingWindow, limit: number): Promise<RankedLink[]> {
    const totals = new Map<string, number>();
    for (const counts of this.#windowCounts(window)) {
      for (const [member, visits] of counts) totals.set(member, (totals.get(member) ?? 0) + visits);
    }
    return [...totals.entries()]
      .map(([member, visits]) => ({ member, visits }))
      .sort(byVisits)
      .slice(0, limit)
      .map(({ member, visits }) => ({ ...linkOfMember(member), visits }));
  }

  async visitsOf(window: RankingWindow, links: readonly LinkRef[]): Promise<number[]> {
    const buckets = this.#windowCounts(window);
    return links.map((link) => {
      const member = memberOf(link);
      return buckets.reduce((sum, counts) => sum + (counts.get(member) ?? 0), 0);
    });
  }

  #windowCounts(window: RankingWindow): Map<string, number>[] {
    const now = this.#now();
    this.#forget(now);
    return bucketsOf(window, now).flatMap((bucket) => {
      const entry = this.#buckets.get(`${window}:${bucket}`);
      return entry ? [entry.counts] : [];
    });
  }

  #forget(now: number): void {
    for (const [key, entry] of this.#buckets) if (entry.endsAt <= now) this.#buckets.delete(key);
    for (const slot of this.#seen.keys()) {
      if ((slot + 1) * SEEN_SLOT_MS + this.#horizonMs <= now) this.#seen.delete(slot);
    }
  }
}
