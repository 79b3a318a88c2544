// The sweeper: an actor, woken by a timer, that purges expired links
// (docs/decisions/0007-expiry.md). One sweep makes three passes, one per way
// to expire (dated, visits used up, idle), each along an index that holds
// only live links that may have expired, a chunk at a time, a few chunks at
// once; each chunk is one transaction (ExpiryStore.purgeChunk): claimed
// (`FOR UPDATE SKIP LOCKED` on MySQL, so several sweepers at once take
// disjoint chunks and never wait for each other; on SQLite its single writer
// runs them one after another), its `link.expired` events published with
// confirms, then tombstoned and committed. A purged link leaves its pass's
// index range, so no cursor is kept. A sweep may be paced (links per
// second), so that purging a backlog does not crowd out the redirects the
// same process serves, and stops between chunks when the service stops.
// A chunk that fails is retried with
// backoff; its events may then go out twice, with the same event ids
// (each link's own id), which consumers deduplicate. After the commit the
// shared cache loses the chunk's entries and visit counters, and every
// gateway's near cache hears of the codes through the change feed.
import { setTimeout as delay } from 'node:timers/promises';
import { LinkExpired } from '../../../gen/shortener/v1/events.ts';
import type { Actor } from '../../../lib/actors/supervisor.ts';
import { type BackoffPolicy, backoffDelay } from '../../../lib/backoff.ts';
import type { Bus } from '../../../lib/bus/bus.ts';
import { EVENTS } from '../../../lib/bus/catalog.ts';
import type { VisitCounter } from '../../../lib/counter/visit-counter.ts';
import type { Logger } from '../../../lib/log.ts';
import type { Metrics } from '../../../lib/metrics/metrics.ts';
import type { LinkChanges } from '../changes/link-changes.ts';
import { effectiveExpiry } from '../domain/expiry.ts';
import type { StoredLink } from '../domain/link.ts';
import { type ExpiryStore, SWEEP_PASSES, type SweepPass } from '../store/expiry-store.ts';
import type { LinkCache } from '../store/link-cache.ts';

export interface SweeperDeps {
  expiry: Pick<ExpiryStore, 'purgeChunk'>;
  cache: Pick<LinkCache, 'remove'>;
  visits: Pick<VisitCounter, 'delete'>;
  changes: Pick<LinkChanges, 'announceAll'>;
  bus: Pick<Bus, 'publish'>;
  log: Logger;
  /** Sweeps and purged links are counted here when given. */
  metrics?: Metrics;
}

export interface SweeperOptions {
  idleMs: number;
  /** Links per chunk, and chunks at once. */
  chunk: number;
  parallel: number;
  now: () => number;
  /**
   * Links purged per second at most, all chunks together (0: as fast as the
   * database goes). A purge costs CPU in the process that serves redirects.
   */
  ratePerSecond?: number;
  /** Once aborted, a sweep stops after its chunks in flight: the service is stopping. */
  signal?: AbortSignal;
  /** Attempts per chunk, and the backoff between them. */
  attempts?: number;
  retry?: BackoffPolicy;
}

const RETRY: BackoffPolicy = { initialMs: 200, maxMs: 10_000, jitter: 0.2 };

/** What a sweep message asks: sweep now. */
export type Sweep = 'sweep';

export class Sweeper implements Actor<Sweep> {
  readonly #deps: SweeperDeps;
  readonly #options: Required<Omit<SweeperOptions, 'signal'>> & { signal?: AbortSignal };

  constructor(deps: SweeperDeps, options: SweeperOptions) {
    this.#deps = deps;
    this.#options = { attempts: 5, retry: RETRY, ratePerSecond: 0, ...options };
  }

  async receive(): Promise<void> {
    const { metrics } = this.#deps;
    try {
      await this.sweep();
    } catch (error) {
      metrics?.sweeps.inc({ outcome: 'failed' });
      throw error;
    }
    metrics?.sweeps.inc({ outcome: 'completed' });
    metrics?.lastSweep.set(this.#options.now() / 1_000);
  }

  /** Purges every link expired now; returns how many this sweeper purged. */
  async sweep(): Promise<number> {
    const now = new Date(this.#options.now());
    let purged = 0;
    for (const pass of SWEEP_PASSES) {
      if (this.#options.signal?.aborted) break;
      purged += await this.#sweepPass(pass, now);
    }
    return purged;
  }

  /** One pass's chunks, a few at once, until one finds nothing left unclaimed. */
  async #sweepPass(pass: SweepPass, now: Date): Promise<number> {
    let done = false;
    let purged = 0;
    const worker = async () => {
      while (!done && !this.#options.signal?.aborted) {
        const started = performance.now();
        const links = await this.#chunk(pass, now);
        if (links.length === 0) {
          done = true;
          return;
        }
        purged += links.length;
        this.#deps.metrics?.sweptLinks.inc(links.length);
        await this.#tellCaches(links);
        await this.#pace(links.length, started);
      }
    };
    await Promise.all(Array.from({ length: this.#options.parallel }, worker));
    return purged;
  }

  /** Each worker takes its share of the rate: a chunk of n lasts at least n × parallel / rate. */
  async #pace(links: number, startedAt: number): Promise<void> {
    const { ratePerSecond, parallel, signal } = this.#options;
    if (ratePerSecond <= 0) return;
    const wait = (links * parallel * 1_000) / ratePerSecond - (performance.now() - startedAt);
    if (wait > 0) await delay(wait, undefined, { signal }).catch(() => {});
  }

  async #chunk(pass: SweepPass, now: Date): Promise<StoredLink[]> {
    const { chunk: limit, idleMs, attempts, retry } = this.#options;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#deps.expiry.purgeChunk({ pass, limit, now, idleMs }, (links) =>
          this.#publish(links, now),
        );
      } catch (error) {
        if (attempt + 1 >= attempts) throw error;
        this.#deps.log.warn(
          { err: error, attempt: attempt + 1, pass },
          'sweeper chunk failed; retrying',
        );
        await new Promise((resolve) => setTimeout(resolve, backoffDelay(attempt, retry)));
      }
    }
  }

  async #publish(links: StoredLink[], now: Date): Promise<void> {
    await Promise.all(
      links.map((link) =>
        this.#deps.bus.publish(
          EVENTS.linkExpired,
          LinkExpired.encode({
            eventId: link.id,
            linkId: link.id,
            code: link.code,
            ownerId: link.ownerId,
            expiredAt: new Date(effectiveExpiry(link, this.#options.idleMs)),
            purgedAt: now,
          }).finish(),
        ),
      ),
    );
  }

  /** The purge is committed: the shared cache forgets the codes, and so does every near cache. */
  async #tellCaches(links: StoredLink[]): Promise<void> {
    const codes = links.map((link) => link.code);
    const limited = links.filter((link) => link.maxVisits !== null).map((link) => link.id);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#deps.cache.remove(codes);
        await this.#deps.visits.delete(limited);
        break;
      } catch (error) {
        // The entries of expired links say so, and live at most the negative TTL: log and go on.
        if (attempt + 1 >= this.#options.attempts) {
          this.#deps.log.warn(
            { err: error, links: codes.length },
            'purged links left in the cache',
          );
          break;
        }
        await new Promise((resolve) =>
          setTimeout(resolve, backoffDelay(attempt, this.#options.retry)),
        );
      }
    }
    await this.#deps.changes.announceAll(codes);
  }
}
