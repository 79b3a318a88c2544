// The link service's store and cache for stories told below its gRPC edge,
// and links to put in them.
import type { Cache } from '../../lib/cache/cache.ts';
import { MemoryCache } from '../../lib/cache/memory-cache.ts';
import type { Link } from '../../services/link/domain/link.ts';
import { urlHash } from '../../services/link/domain/target-url.ts';
import { LinkCache } from '../../services/link/store/link-cache.ts';
import type { InsertOutcome, LinkStore } from '../../services/link/store/link-store.ts';
import { testLog } from './logger.ts';

let nextId = 7_000_000_000_000_000_000n;
/** An id no other link of this run has. */
export const freshLinkId = () => String(nextId++);

/** A link of `code` to https://example.com/<code>, made now, with a fresh id: unless told otherwise. */
export function aLink(overrides: Partial<Link> & Pick<Link, 'code'>): Link {
  return {
    id: freshLinkId(),
    targetUrl: `https://example.com/${overrides.code}`,
    ownerId: '100000000000000001',
    createdAt: new Date(),
    expiresAt: null,
    ownerKind: 'guest',
    maxVisits: null,
    lastAccessedAt: null,
    extendedTo: null,
    exhaustedAt: null,
    ...overrides,
  };
}

/** Stores the link as the service does, under the hash of its target. */
export function storeLink(store: LinkStore, link: Link): Promise<InsertOutcome> {
  return store.insert(link, urlHash(link.targetUrl));
}

/** A link cache over `cache` that keeps answers and misses for a minute. */
export function linkCacheOver(cache: Cache = new MemoryCache()): LinkCache {
  return new LinkCache(cache, {
    ttlMs: 60_000,
    negativeTtlMs: 60_000,
    log: testLog,
    idleMs: 180 * 86_400_000,
    now: Date.now,
  });
}
