// The live top links, two questions: across every link (internal callers),
// and among one caller's own links (the gateway). The second is not a filter
// over the first: the caller's links are asked of the link service now (so
// links a member adopted from their guest count), and each is scored from
// the ranking's buckets, so a guest whose three links have a few visits sees
// all three whatever other links do. A burst of readers costs one
// computation: each question's answer is shared while it is being computed
// and for a short while after.
import { analyticsErrors } from '../errors.ts';
import {
  byVisits,
  memberOf,
  type RankedLink,
  type Ranking,
  type RankingWindow,
} from '../ranking/ranking.ts';
import type { Caller, OwnedLinks } from './owned-links.ts';

export const DEFAULT_TOP_LIMIT = 10;
export const MAX_TOP_LIMIT = 100;
/** An owner's newest links, at most this many, are ranked (bounds one computation). */
export const MAX_OWN_LINKS = 10_000;

export type TopScope = { kind: 'all' } | { kind: 'caller'; caller: Caller };

export interface TopLinksDeps {
  ranking: Ranking;
  links: OwnedLinks;
  /** How long a computed answer is shared. */
  cacheTtlMs: number;
  now: () => number;
}

export class TopLinks {
  readonly #deps: TopLinksDeps;
  readonly #answers = new Map<string, { at: number; links: Promise<RankedLink[]> }>();

  constructor(deps: TopLinksDeps) {
    this.#deps = deps;
  }

  /** A shared computation runs under the deadline of the request that started it. */
  async top(
    scope: TopScope,
    window: RankingWindow,
    limit: number,
    deadline = Number.POSITIVE_INFINITY,
  ): Promise<RankedLink[]> {
    const size = limit === 0 ? DEFAULT_TOP_LIMIT : limit;
    if (!Number.isInteger(size) || size < 1 || size > MAX_TOP_LIMIT) {
      throw analyticsErrors.invalid_top_limit({ max: MAX_TOP_LIMIT });
    }
    const key = scope.kind === 'all' ? `all:${window}` : `caller:${scope.caller.id}:${window}`;
    return (await this.#shared(key, () => this.#compute(scope, window, deadline))).slice(0, size);
  }

  /** Every link of the question with visits, ranked, up to MAX_TOP_LIMIT. */
  async #compute(scope: TopScope, window: RankingWindow, deadline: number): Promise<RankedLink[]> {
    const { ranking, links } = this.#deps;
    if (scope.kind === 'all') return ranking.top(window, MAX_TOP_LIMIT);
    const own = await links.list(scope.caller, MAX_OWN_LINKS, deadline);
    const visits = await ranking.visitsOf(window, own);
    return own
      .map((link, i) => ({ ...link, visits: visits[i] ?? 0, member: memberOf(link) }))
      .filter((link) => link.visits > 0)
      .sort(byVisits)
      .slice(0, MAX_TOP_LIMIT)
      .map(({ linkId, code, visits: count }) => ({ linkId, code, visits: count }));
  }

  #shared(key: string, compute: () => Promise<RankedLink[]>): Promise<RankedLink[]> {
    const now = this.#deps.now();
    const cached = this.#answers.get(key);
    if (cached && now - cached.at < this.#deps.cacheTtlMs) return cached.links;
    if (this.#answers.size > 10_000) {
      for (const [k, entry] of this.#answers) {
        if (now - entry.at >= this.#deps.cacheTtlMs) this.#answers.delete(k);
      }
    }
    const links = compute();
    const entry = { at: now, links };
    this.#answers.set(key, entry);
    // A failure is not shared beyond the callers already waiting for it.
    links.catch(() => {
      if (this.#answers.get(key) === entry) this.#answers.delete(key);
    });
    return links;
  }
}
