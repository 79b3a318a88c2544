// The gateway's near cache of hot links, so a hot redirect needs no network
// hop at all. It is trusted only while the WatchLinkChanges stream from the
// link service is live: changed codes are dropped as they are announced, every
// reset or broken stream empties it, and a TTL bounds anything missed
// regardless. A resolution that was in flight while anything was invalidated
// is not cached (the epoch check), so it cannot bring a deleted link back.
import type { WatchLinkChangesResponse } from '../gen/shortener/v1/link.ts';
import { backoffDelay } from '../lib/backoff.ts';
import type { Logger } from '../lib/log.ts';
import { FeedCache } from './feed-cache.ts';
import type { LinkClient } from './grpc-clients.ts';

export interface NearEntry {
  /** What a click on the link records, also when the near cache answered it. */
  linkId: string;
  ownerId: string;
  targetUrl: string;
  /** ms since the epoch; null if the link has no explicit expiry. */
  expiresAt: number | null;
}

/** Links by code, trusted while the WatchLinkChanges stream is live. */
export class NearCache extends FeedCache<NearEntry> {}

/** A stream that has said nothing for this long is treated as lost (the link service beats every second). */
export const SILENCE_MS = 3_000;

/**
 * Keeps a WatchLinkChanges stream open and feeds the cache from it: changed
 * codes are dropped, a reset empties it and lets it cache, a pause empties it
 * and stops caching, and a stream that ends or goes silent stops caching until
 * a new one (reconnected with backoff) says reset. The stream goes through the
 * standard client stack; its promise settles when the stream is over.
 */
export function followLinkChanges(client: LinkClient, cache: NearCache, log: Logger): () => void {
  let stopped = false;
  let attempt = 0;
  let current: AbortController | undefined;
  let reconnect: NodeJS.Timeout | undefined;
  let lastHeard = 0;
  let streaming = false;

  const onMessage = (message: WatchLinkChangesResponse) => {
    lastHeard = Date.now();
    if (message.paused) {
      cache.suspend();
    } else if (message.reset) {
      if (attempt > 0) log.info('link change stream back; near cache on');
      attempt = 0;
      cache.resume();
    }
    if (message.codes.length > 0) cache.drop(message.codes);
  };

  const lost = (reason: unknown) => {
    streaming = false;
    cache.suspend();
    if (stopped) return;
    if (attempt === 0)
      log.warn(
        { cause: reason instanceof Error ? reason.message : String(reason) },
        'link change stream lost; near cache off until it is back',
      );
    reconnect = setTimeout(open, backoffDelay(attempt++));
    reconnect.unref();
  };

  const open = () => {
    current = new AbortController();
    lastHeard = Date.now();
    streaming = true;
    client
      .watchLinkChanges(
        {},
        { deadline: Number.POSITIVE_INFINITY, signal: current.signal, onMessage },
      )
      .then(
        () => lost('stream ended'),
        (error: unknown) => lost(error),
      );
  };

  if (!cache.enabled) return () => {};
  // One timer for the whole stream, not one per message.
  const watchdog = setInterval(() => {
    if (streaming && Date.now() - lastHeard > SILENCE_MS) {
      log.warn('link change stream silent; treating it as lost');
      cache.suspend();
      current?.abort();
    }
  }, 500);
  watchdog.unref();

  open();
  return () => {
    stopped = true;
    clearInterval(watchdog);
    clearTimeout(reconnect);
    current?.abort();
    cache.suspend();
  };
}
