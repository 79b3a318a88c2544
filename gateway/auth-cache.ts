// The gateway's cache of recent authentications, so an API request needs no
// Authenticate call to identity. Keyed by the SHA-256 of the bearer token
// (the token itself is never kept), holding the principal identity answered.
// It is trusted only while the revocation broadcast is live: identity
// announces every revoked token and every principal whose credentials all
// went (password reset, account closed, an API key revoked by id), and those
// entries are dropped as they arrive. While the broadcast is not live nothing
// is cached or served from the cache, and a TTL bounds anything missed
// regardless. Refusals are never cached.
import { LRUCache } from 'lru-cache';
import type { Principal } from '../gen/shortener/v1/principal.ts';
import { decodeRevocation, REVOCATIONS_CHANNEL, type Revocation } from '../lib/auth/revocations.ts';
import type { Broadcast } from '../lib/broadcast/broadcast.ts';
import type { Logger } from '../lib/log.ts';

export class AuthCache {
  readonly #entries: LRUCache<string, Principal> | null;
  #live = false;
  #epoch = 0;

  constructor(size: number, ttlMs: number) {
    this.#entries =
      size > 0 && ttlMs > 0 ? new LRUCache({ max: size, ttl: ttlMs, ttlAutopurge: false }) : null;
  }

  get enabled(): boolean {
    return this.#entries !== null;
  }

  get live(): boolean {
    return this.#live;
  }

  /** Bumped by every revocation; a fill carries the epoch its Authenticate started in. */
  get epoch(): number {
    return this.#epoch;
  }

  get(tokenHash: string): Principal | undefined {
    return this.#live ? this.#entries?.get(tokenHash) : undefined;
  }

  /**
   * Kept only if nothing was revoked while identity was being asked, and
   * never past the token's own expiry.
   */
  fill(
    tokenHash: string,
    principal: Principal,
    epochAtRequest: number,
    expiresAt: Date | undefined,
  ): void {
    const entries = this.#entries;
    if (!entries || !this.#live || epochAtRequest !== this.#epoch) return;
    if (expiresAt === undefined) {
      entries.set(tokenHash, principal);
      return;
    }
    const left = expiresAt.getTime() - Date.now();
    if (left > 0) entries.set(tokenHash, principal, { ttl: Math.min(left, entries.ttl) });
  }

  revoke(revocation: Revocation): void {
    this.#epoch++;
    const entries = this.#entries;
    if (!entries) return;
    if ('tokenHash' in revocation) {
      entries.delete(revocation.tokenHash);
      return;
    }
    // Revocations are rare and the cache is bounded: a scan beats keeping an index.
    const gone: string[] = [];
    for (const [hash, principal] of entries.entries()) {
      if (principal.id === revocation.principalId) gone.push(hash);
    }
    for (const hash of gone) entries.delete(hash);
  }

  /** The broadcast is live (again): start empty, anything may have been missed. */
  resume(): void {
    this.#epoch++;
    this.#entries?.clear();
    this.#live = true;
  }

  /** The broadcast is gone: empty, and not trusted until it is back. */
  suspend(): void {
    this.#epoch++;
    this.#entries?.clear();
    this.#live = false;
  }

  get size(): number {
    return this.#entries?.size ?? 0;
  }
}

/** Feeds the cache from the revocation broadcast; returns how to stop. */
export function followRevocations(
  broadcast: Broadcast,
  cache: AuthCache,
  log: Logger,
): () => Promise<void> {
  if (!cache.enabled) return async () => {};
  let interrupted = false;
  const unsubscribe = broadcast.subscribe(REVOCATIONS_CHANNEL, {
    message: (payload) => {
      const revocation = decodeRevocation(payload);
      // Something this gateway cannot read may be a revocation: drop everything.
      if (revocation) cache.revoke(revocation);
      else cache.resume();
    },
    live: (live) => {
      if (live) {
        if (interrupted) log.info('revocation broadcast back; authentication cache on');
        interrupted = false;
        cache.resume();
      } else {
        if (!interrupted) log.warn('revocation broadcast lost; authentication cache off');
        interrupted = true;
        cache.suspend();
      }
    },
  });
  return async () => {
    cache.suspend();
    await unsubscribe();
  };
}
