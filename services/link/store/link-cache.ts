// Resolutions cached in the shared cache, keyed by code. An entry carries the
// link's expiry, so an expired link is answered 410 from the cache too, never
// redirected. Unknown codes are cached as absent (negative caching).
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
import { runtimeErrors } from '../../../lib/runtime-errors.ts';
import type { Link } from '../domain/link.ts';

export type CachedResolution =
  | { kind: 'link'; id: string; ownerId: string; targetUrl: string; expiresAt: number | null }
  | { kind: 'absent' };

const ABSENT = '-';
const KEY = 'link:';

// `id \t owner \t expiry \t target`: targets never hold a tab (checkTarget
// refuses whitespace), so the target is whatever follows the third tab.
function encode(link: Pick<Link, 'id' | 'ownerId' | 'targetUrl' | 'expiresAt'>): string {
  const expiry = link.expiresAt ? link.expiresAt.getTime() : '';
  return `${link.id}\t${link.ownerId}\t${expiry}\t${link.targetUrl}`;
}

/** undefined for anything else, e.g. an entry an older version wrote: read from the database then. */
function decode(value: string): CachedResolution | undefined {
  if (value === ABSENT) return { kind: 'absent' };
  const first = value.indexOf('\t');
  const second = value.indexOf('\t', first + 1);
  const third = value.indexOf('\t', second + 1);
  if (first < 0 || second < 0 || third < 0) return undefined;
  const expires = value.slice(second + 1, third);
  return {
    kind: 'link',
    id: value.slice(0, first),
    ownerId: value.slice(first + 1, second),
    expiresAt: expires ? Number(expires) : null,
    targetUrl: value.slice(third + 1),
  };
}

export interface LinkCacheOptions {
  ttlMs: number;
  negativeTtlMs: number;
  log: Logger;
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
    return values.map((value) => (value === null ? undefined : decode(value)));
  }

  /** After a database read: caches what was found, never over an existing entry. */
  fill(code: string, link: Link | null): void {
    const value = link ? encode(link) : ABSENT;
    const ttl = link ? this.#options.ttlMs : this.#options.negativeTtlMs;
    // Not the call's business: the call may be over before Redis answers.
    outsideCall(() => this.#cache.add(KEY + code, value, ttl)).catch((error: unknown) => {
      this.#warn(error, 'cache unreachable; could not cache a resolution');
    });
  }

  /** After a create: the new link replaces whatever was cached for the code (e.g. "absent"). */
  async put(link: Link): Promise<void> {
    try {
      await this.#cache.set(KEY + link.code, encode(link), this.#options.ttlMs);
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

  #warn(error: unknown, message: string): void {
    this.#warnings.warn(
      message,
      { cause: error instanceof Error ? error.message : String(error) },
      message,
    );
  }
}
