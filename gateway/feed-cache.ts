// A bounded cache the gateway trusts only while a feed of changes is live:
// the near cache (links, fed by WatchLinkChanges) and the authentication
// cache (principals, fed by the revocation broadcast). Changed keys are
// dropped as the feed announces them; the feed (re)starting empties it, and
// losing the feed empties it and stops it caching until the feed is back. A
// TTL bounds anything missed regardless. An answer fetched while anything
// was dropped is not kept (the epoch check), so it cannot bring back what
// the feed just removed.
//
// Each entry lives a random share of the TTL, between SPREAD and all of it:
// entries filled together (a warm-up, a feed's reset, a burst of new hot
// links) would otherwise all expire together, and every request for them
// would wait on the same refetch at once.
import { LRUCache } from 'lru-cache';

/** The least share of the TTL an entry lives. */
const SPREAD = 0.75;

function spread(ttlMs: number): number {
  return Math.ceil(ttlMs * (SPREAD + (1 - SPREAD) * Math.random()));
}

export class FeedCache<V extends object> {
  readonly #entries: LRUCache<string, V> | null;
  #live = false;
  #epoch = 0;
  /** One options object for every read that may answer a stale entry (no allocation per read). */
  readonly #staleRead: {
    allowStale: true;
    noDeleteOnStaleGet: true;
    status: LRUCache.Status<string, V>;
  } = { allowStale: true, noDeleteOnStaleGet: true, status: {} };
  /** Whether the last getAllowingStale answered an entry past its TTL: it is due for a refetch. */
  refreshDue = false;

  /** Off (caching nothing) when `size` is 0; `ttlMs` 0 means no TTL. */
  constructor(size: number, ttlMs: number) {
    this.#entries = size > 0 ? new LRUCache({ max: size, ttl: ttlMs, ttlAutopurge: false }) : null;
  }

  get enabled(): boolean {
    return this.#entries !== null;
  }

  /** Whether the feed is live, so entries are trusted. */
  get live(): boolean {
    return this.#live;
  }

  /** Bumped by every change; a fill carries the epoch its fetch started in. */
  get epoch(): number {
    return this.#epoch;
  }

  get size(): number {
    return this.#entries?.size ?? 0;
  }

  get(key: string): V | undefined {
    return this.#live ? this.#entries?.get(key) : undefined;
  }

  /**
   * As get, but an entry past its TTL by at most `staleMs` is answered too,
   * with `refreshDue` set, so that its caller refetches it in the background
   * instead of making a request wait for it; an older one is gone. Entries
   * the feed drops go at once either way: staleness only ever bounds what
   * the feed might have missed.
   */
  getAllowingStale(key: string, staleMs: number): V | undefined {
    this.refreshDue = false;
    const entries = this.#entries;
    if (!this.#live || !entries) return undefined;
    const status = this.#staleRead.status;
    status.get = undefined;
    status.remainingTTL = undefined;
    const value = entries.get(key, this.#staleRead);
    if (value === undefined || status.get !== 'stale') return value;
    if ((status.remainingTTL ?? 0) < -staleMs) {
      entries.delete(key);
      return undefined;
    }
    this.refreshDue = true;
    return value;
  }

  /** A refetch found the key gone: forget it (the feed will say so too, or has). */
  forget(key: string): void {
    this.#entries?.delete(key);
  }

  /**
   * Keeps `value` if the feed is live and nothing changed since the fetch
   * began (`epochAtRequest`); never past `until`, if given.
   */
  fill(key: string, value: V, epochAtRequest: number, until?: Date): void {
    const entries = this.#entries;
    if (!entries || !this.#live || epochAtRequest !== this.#epoch) return;
    const ttl = entries.ttl > 0 ? spread(entries.ttl) : 0;
    if (until === undefined) {
      entries.set(key, value, { ttl });
      return;
    }
    const left = until.getTime() - Date.now();
    if (left > 0) entries.set(key, value, { ttl: ttl > 0 ? Math.min(left, ttl) : left });
  }

  /** How long an entry is kept still, in ms (0 when absent; Infinity without a TTL). */
  remainingMs(key: string): number {
    return this.#entries?.getRemainingTTL(key) ?? 0;
  }

  /** The feed announced these keys changed. */
  drop(keys: Iterable<string>): void {
    this.#epoch++;
    for (const key of keys) this.#entries?.delete(key);
  }

  /** The feed announced a change to every entry `changed` picks. */
  dropWhere(changed: (value: V) => boolean): void {
    this.#epoch++;
    const entries = this.#entries;
    if (!entries) return;
    // Such changes are rare and the cache is bounded: a scan beats keeping an index.
    const gone: string[] = [];
    for (const [key, value] of entries.entries()) if (changed(value)) gone.push(key);
    for (const key of gone) entries.delete(key);
  }

  /** The feed is live (again): start empty, anything may have been missed. */
  resume(): void {
    this.#epoch++;
    this.#entries?.clear();
    this.#live = true;
  }

  /** The feed is gone: empty, and not trusted until it is back. */
  suspend(): void {
    this.#epoch++;
    this.#entries?.clear();
    this.#live = false;
  }
}
