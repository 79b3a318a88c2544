// Resolutions cached in the shared cache, keyed by code. An entry carries the
// expiry that applies to the link when it is written (the earlier of its
// explicit and its idle expiry), so an expired link is answered 410 from the
// cache too, never redirected, and its visit limit, so that every visit of a
// limited link spends its count. Unknown codes are cached as absent
// (negative caching).
//
// Use pushes the idle expiry out, and clicks must not cost a cache write
// each. So a live link's entry never outlives the expiry it carries: its TTL
// ends there at the latest, and the next resolve reads the link, last access
// and all, from the database. An entry can then never answer 410 for a link
// that was used meanwhile; only entries written past the expiry say expired,
// and those live for the negative TTL.
//
// Races with deletion: a delete writes a tombstone (an "absent" entry) instead
// of removing the key, and cache fills after a database read only ever add to
// an empty key, so a read that started before the delete cannot put the link
// back. A delete whose tombstone cannot be written does not happen at all
// (see manage-links.ts): otherwise another instance could go on serving the
// deleted link from the cache for as long as its entry lives.
import type { Cache } from '../../../lib/cache/cache.ts';
import { outsideCall, shareOfCall } from '../../../lib/call-scope.ts';
import { type Logger, ThrottledLog } from '../../../lib/log.ts';
import type { CacheTally } from '../../../lib/metrics/metrics.ts';
import { runtimeErrors } from '../../../lib/runtime-errors.ts';
import { effectiveExpiry } from '../domain/expiry.ts';
import type { Link } from '../domain/link.ts';

export type CachedResolution =
  | {
      kind: 'link';
      id: string;
      ownerId: string;
      targetUrl: string;
      /** The expiry that applied when the entry was written. */
      expiresAt: number;
      maxVisits: number | null;
    }
  | { kind: 'absent' };

const ABSENT = '-';
const KEY = 'link:';

// `id \t owner \t expiry \t max visits \t target`: targets never hold a tab
// (checkTarget refuses whitespace), so the target is whatever follows the
// fourth tab.
function encode(link: Link, expiresAt: number): string {
  return `${link.id}\t${link.ownerId}\t${expiresAt}\t${link.maxVisits ?? ''}\t${link.targetUrl}`;
}

/** undefined for anything else, e.g. an entry an older version wrote: read from the database then. */
function decode(value: string): CachedResolution | undefined {
  if (value === ABSENT) return { kind: 'absent' };
  const first = value.indexOf('\t');
  const second = value.indexOf('\t', first + 1);
  const third = value.indexOf('\t', second + 1);
  const fourth = value.indexOf('\t', third + 1);
  if (first < 0 || second < 0 || third < 0 || fourth < 0) return undefined;
  const expires = Number(value.slice(second + 1, third));
  const limit = value.slice(third + 1, fourth);
  if (!Number.isFinite(expires)) return undefined;
  return {
    kind: 'link',
    id: value.slice(0, first),
    ownerId: value.slice(first + 1, second),
    expiresAt: expires,
    maxVisits: limit ? Number(limit) : null,
    targetUrl: value.slice(fourth + 1),
  };
}

export interface LinkCacheOptions {
  /** Hits and misses are counted here (the metrics read it when scraped). */
  tally?: CacheTally;
  ttlMs: number;
  negativeTtlMs: number;
  log: Logger;
  /** The idle period: with last access, what a link's idle expiry is counted from. */
  idleMs: number;
  now: () => number;
}

export class LinkCache {
  readonly #cache: Cache;
  readonly #options: LinkCacheOptions;
  readonly #warnings: ThrottledLog;

  constructor(cache: Cache, options: LinkCacheOptions) {
    this.#cache = cache;
    this.#options = options;
    this.#warnings = new ThrottledLog(options.log);
  }

  /** Cached resolutions in code order; undefined where the cache cannot be trusted or has nothing. */
  async getMany(codes: readonly string[]): Promise<(CachedResolution | undefined)[]> {
    let values: (string | null)[];
    try {
      // Half of what the call has left at most: the database gets the rest.
      values = await this.#cache.getMany(
        codes.map((code) => KEY + code),
        shareOfCall(0.5),
      );
    } catch (error) {
      this.#warn(error, 'cache unreachable; resolving from the database');
      return codes.map(() => undefined);
    }
    const tally = this.#options.tally;
    if (tally) {
      let hits = 0;
      for (const value of values) if (value !== null) hits++;
      tally.hits += hits;
      tally.misses += values.length - hits;
    }
    return values.map((value) => (value === null ? undefined : decode(value)));
  }

  /** The entry for a link and how long it may live: never past the expiry it carries, unless it says expired. */
  #entry(link: Link): { value: string; ttl: number } {
    const expiresAt = effectiveExpiry(link, this.#options.idleMs);
    const left = expiresAt - this.#options.now();
    const ttl = left > 0 ? Math.min(this.#options.ttlMs, left) : this.#options.negativeTtlMs;
    return { value: encode(link, expiresAt), ttl };
  }

  /** After a database read: caches what was found, never over an existing entry. */
  fill(code: string, link: Link | null): void {
    const { value, ttl } = link
      ? this.#entry(link)
      : { value: ABSENT, ttl: this.#options.negativeTtlMs };
    // Not the call's business: the call may be over before Redis answers.
    outsideCall(() => this.#cache.add(KEY + code, value, ttl)).catch((error: unknown) => {
      this.#warn(error, 'cache unreachable; could not cache a resolution');
    });
  }

  /** After a create or an extension: the link replaces whatever was cached for the code (e.g. "absent"). */
  async put(link: Link): Promise<void> {
    try {
      const { value, ttl } = this.#entry(link);
      await this.#cache.set(KEY + link.code, value, ttl);
    } catch (error) {
      // A stale "absent" may linger until its short TTL ends: the link then
      // resolves a little late, never wrongly.
      this.#warn(error, 'cache unreachable; new link not cached');
    }
  }

  /**
   * Before a delete: from now on the code resolves to nothing on every path.
   * Throws `unavailable` if the cache cannot be told, so the delete is refused.
   */
  async forget(code: string): Promise<void> {
    try {
      await this.#cache.set(KEY + code, ABSENT, this.#options.negativeTtlMs);
    } catch (error) {
      throw runtimeErrors.cache_unavailable({ cause: error });
    }
  }

  /** A delete that failed after forget(): let the code resolve from the database again. */
  async unforget(code: string): Promise<void> {
    await this.#cache.delete([KEY + code]).catch((error: unknown) => {
      this.#warn(
        error,
        'cache unreachable; a failed delete keeps its code unresolvable for a while',
      );
    });
  }

  // --- Expiry (docs/decisions/0007-expiry.md) ---

  /** After a purge: the codes' entries are removed; throws if the cache cannot be told. */
  async remove(codes: readonly string[]): Promise<void> {
    try {
      await this.#cache.delete(codes.map((code) => KEY + code));
    } catch (error) {
      throw runtimeErrors.cache_unavailable({ cause: error });
    }
  }

  #warn(error: unknown, message: string): void {
    this.#warnings.warn(
      message,
      { cause: error instanceof Error ? error.message : String(error) },
      message,
    );
  }
}
