// Resolving codes to targets, many at once (the gateway coalesces redirects):
// one cache round trip for the batch, one indexed database query for the
// misses, and single-flight per code so a cold hot key costs one query however
// many redirects ask for it at the same moment.
//
// A link with a maximum number of visits spends one of them with every
// resolve of a visit (not of a HEAD): the visit counter (lib/counter) decides
// atomically which visit was the last, so no cache ever answers for such a
// link without asking it. The visit that finds none left is refused with
// `visits_exhausted`, and the link is marked exhausted in the database (so
// it stays refused if the counter is lost, and the sweeper purges it).
//
// A code that does not resolve to a live link stands for an error of the link
// service's catalogue (link_not_found, link_expired) or the cause the lookup
// failed with (database_unavailable, database_timeout): resolutionError says
// which, and every edge reports that error, from ResolveLink's status to the
// gateway's problem details.

import type { VisitCounter } from '../../../lib/counter/visit-counter.ts';
import { type DomainError, isDomainError } from '../../../lib/errors.ts';
import { runtimeErrors } from '../../../lib/runtime-errors.ts';
import { CODE_PATTERN } from '../../../lib/short-code-rules.ts';
import { linkErrors } from '../errors.ts';
import type { CachedResolution, LinkCache } from '../store/link-cache.ts';
import type { LinkStore } from '../store/link-store.ts';
import { effectiveExpiry } from './expiry.ts';
import type { Link } from './link.ts';

export type Resolution =
  | {
      /** `exhausted`: its visits ran out. */
      status: 'found' | 'expired' | 'exhausted';
      id: string;
      ownerId: string;
      targetUrl: string;
      /** The expiry that applies now. */
      expiresAt: number;
      /** Its visit limit, if it has one: nobody may cache the resolution then. */
      maxVisits: number | null;
    }
  | { status: 'not_found' }
  /** The lookup needed the database and it did not answer: only this code fails, with `error`. */
  | { status: 'unavailable'; error: DomainError };

/** A resolution that names a link: found, expired or exhausted. */
type LinkResolution = Extract<Resolution, { id: string }>;

const NOT_FOUND: Resolution = { status: 'not_found' };

/** The error a resolution that found no live link stands for; null if it found one. */
export function resolutionError(resolution: Resolution): DomainError | null {
  switch (resolution.status) {
    case 'found':
      return null;
    case 'not_found':
      return linkErrors.link_not_found();
    case 'expired':
      return linkErrors.link_expired();
    case 'exhausted':
      return linkErrors.visits_exhausted();
    case 'unavailable':
      return resolution.error;
  }
}

function fromCached(entry: CachedResolution, now: number): Resolution {
  if (entry.kind === 'absent') return NOT_FOUND;
  return {
    status: entry.expiresAt <= now ? 'expired' : 'found',
    id: entry.id,
    ownerId: entry.ownerId,
    targetUrl: entry.targetUrl,
    expiresAt: entry.expiresAt,
    maxVisits: entry.maxVisits,
  };
}

function fromLink(link: Link | null, now: number, idleMs: number): Resolution {
  if (!link) return NOT_FOUND;
  const expiresAt = effectiveExpiry(link, idleMs);
  const exhausted = link.exhaustedAt !== null && link.exhaustedAt.getTime() <= now;
  return {
    status: exhausted ? 'exhausted' : expiresAt <= now ? 'expired' : 'found',
    id: link.id,
    ownerId: link.ownerId,
    targetUrl: link.targetUrl,
    expiresAt,
    maxVisits: link.maxVisits,
  };
}

export interface ResolverOptions {
  now?: () => number;
  onFailure?: (error: unknown) => void;
  /** The idle period links expire after (180 days unless given). */
  idleMs?: number;
  /** Where visit budgets are spent; without it, visit limits are not enforced (tests of other rules). */
  visits?: VisitCounter;
  /** Records that a link's visits ran out (the store's markExhausted). */
  markExhausted?: (id: string, at: Date) => Promise<void>;
}

const DEFAULT_IDLE_MS = 180 * 86_400_000;

export class LinkResolver {
  readonly #store: LinkStore;
  readonly #cache: LinkCache;
  readonly #now: () => number;
  /** Database reads under way, by code: later askers wait for the same read. */
  readonly #inFlight = new Map<string, Promise<Link | null>>();

  readonly #onFailure: (error: unknown) => void;
  readonly #idleMs: number;
  readonly #visits: VisitCounter | undefined;
  readonly #markExhausted: (id: string, at: Date) => Promise<void>;

  /** `onFailure` hears about database reads that failed (their codes resolve `unavailable`). */
  constructor(store: LinkStore, cache: LinkCache, options: ResolverOptions = {}) {
    this.#store = store;
    this.#cache = cache;
    this.#now = options.now ?? Date.now;
    this.#onFailure = options.onFailure ?? (() => {});
    this.#idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
    this.#visits = options.visits;
    this.#markExhausted = options.markExhausted ?? (async () => {});
  }

  /** One code, for ordinary callers: a limited link's visits are looked at, not spent. */
  async resolve(code: string): Promise<Resolution> {
    const resolution = (await this.resolveMany([code]))[0] ?? NOT_FOUND;
    if (resolution.status !== 'found' || resolution.maxVisits === null || !this.#visits) {
      return resolution;
    }
    const [spent] = await this.#visits.spent([resolution.id]);
    return (spent ?? 0) >= resolution.maxVisits
      ? { ...resolution, status: 'exhausted' }
      : resolution;
  }

  /**
   * Resolves the codes of visits: where `visits[i]` is true (a GET, not a
   * HEAD), a limited link spends one visit, and the one past its limit
   * resolves `exhausted`.
   */
  async resolveVisits(codes: readonly string[], visits: readonly boolean[]): Promise<Resolution[]> {
    const results = await this.resolveMany(codes);
    const counter = this.#visits;
    if (!counter) return results;
    const spends: Promise<void>[] = [];
    for (let i = 0; i < results.length; i++) {
      const resolution = results[i] as Resolution;
      if (resolution.status !== 'found' || resolution.maxVisits === null || !visits[i]) continue;
      spends.push(
        this.#spend(counter, resolution).then((spent) => {
          results[i] = spent;
        }),
      );
    }
    if (spends.length > 0) await Promise.all(spends);
    return results;
  }

  async #spend(counter: VisitCounter, resolution: LinkResolution): Promise<Resolution> {
    let left: number;
    try {
      left = await counter.spend(resolution.id, resolution.maxVisits as number);
    } catch (error) {
      return {
        status: 'unavailable',
        error: isDomainError(error) ? error : runtimeErrors.internal({ cause: error }),
      };
    }
    if (left > 0) return resolution;
    // The last visit, or one past it: from now on the link is exhausted, also for the database.
    this.#markExhausted(resolution.id, new Date(this.#now())).catch((error: unknown) =>
      this.#onFailure(error),
    );
    return left === 0 ? resolution : { ...resolution, status: 'exhausted' };
  }

  async resolveMany(codes: readonly string[]): Promise<Resolution[]> {
    const results: Resolution[] = new Array(codes.length).fill(NOT_FOUND);
    const lookup: number[] = [];
    for (let i = 0; i < codes.length; i++) {
      if (CODE_PATTERN.test(codes[i] as string)) lookup.push(i);
    }
    if (lookup.length === 0) return results;

    const cached = await this.#cache.getMany(lookup.map((i) => codes[i] as string));
    const now = this.#now();
    const misses: number[] = [];
    for (let j = 0; j < lookup.length; j++) {
      const entry = cached[j];
      const i = lookup[j] as number;
      if (entry) results[i] = fromCached(entry, now);
      else misses.push(i);
    }
    if (misses.length === 0) return results;

    let links: (Link | null)[];
    try {
      links = await this.#load(misses.map((i) => codes[i] as string));
    } catch (error) {
      // Cache hits stay answered; only what needed the database fails, with its cause.
      this.#onFailure(error);
      const failed: Resolution = {
        status: 'unavailable',
        error: isDomainError(error) ? error : runtimeErrors.internal({ cause: error }),
      };
      for (const i of misses) results[i] = failed;
      return results;
    }
    for (let j = 0; j < misses.length; j++) {
      results[misses[j] as number] = fromLink(links[j] ?? null, now, this.#idleMs);
    }
    return results;
  }

  /** Links for the codes (null for unknown or deleted), sharing reads already under way. */
  async #load(codes: string[]): Promise<(Link | null)[]> {
    const fresh = [...new Set(codes.filter((code) => !this.#inFlight.has(code)))];
    if (fresh.length > 0) {
      const read = this.#store.findByCodes(fresh).then((rows) => {
        const byCode = new Map<string, Link>();
        for (const row of rows) if (row.deletedAt === null) byCode.set(row.code, row);
        for (const code of fresh) this.#cache.fill(code, byCode.get(code) ?? null);
        return byCode;
      });
      const settled = read.finally(() => {
        for (const code of fresh) this.#inFlight.delete(code);
      });
      for (const code of fresh) {
        this.#inFlight.set(
          code,
          settled.then((byCode) => byCode.get(code) ?? null),
        );
      }
    }
    return Promise.all(codes.map((code) => this.#inFlight.get(code) ?? Promise.resolve(null)));
  }
}
