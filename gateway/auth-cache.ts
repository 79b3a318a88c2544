// The gateway's cache of recent authentications, so an API request needs no
// Authenticate call to identity. Keyed by the SHA-256 of the bearer token
// (the token itself is never kept), holding the principal identity answered.
// It is trusted only while the revocation broadcast is live: identity
// announces every revoked token and every principal whose credentials all
// went (password reset, account closed, an API key revoked by id), and those
// entries are dropped as they arrive. While the broadcast is not live nothing
// is cached or served from the cache, and a TTL bounds anything missed
// regardless. Refusals are never cached.
import type { Principal } from '../gen/shortener/v1/principal.ts';
import { decodeRevocation, REVOCATIONS_CHANNEL, type Revocation } from '../lib/auth/revocations.ts';
import type { Broadcast } from '../lib/broadcast/broadcast.ts';
import type { Logger } from '../lib/log.ts';
import { FeedCache } from './feed-cache.ts';

export class AuthCache extends FeedCache<Principal> {
  /** Off when either is 0. */
  constructor(size: number, ttlMs: number) {
    super(ttlMs > 0 ? size : 0, ttlMs);
  }

  revoke(revocation: Revocation): void {
    if ('tokenHash' in revocation) this.drop([revocation.tokenHash]);
    else this.dropWhere((principal) => principal.id === revocation.principalId);
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
