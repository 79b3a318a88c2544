// Resolving codes to targets, many at once (the gateway coalesces redirects):
// one cache round trip for the batch, one indexed database query for the
// misses, and single-flight per code so a cold hot key costs one query however
// many redirects ask for it at the same moment.
//
// A code that does not resolve to a live link stands for an error of the link
// service's catalogue (link_not_found, link_expired) or the cause the lookup
// failed with (database_unavailable, database_timeout): resolutionError says
// which, and every edge reports that error, from ResolveLink's status to the
// gateway's problem details.

import { type DomainError, isDomainError } from '../../../lib/errors.ts';
import { runtimeErrors } from '../../../lib/runtime-errors.ts';
import { CODE_PATTERN } from '../../../lib/short-code-rules.ts';
import { linkErrors } from '../errors.ts';
import type { CachedResolution, LinkCache } from '../store/link-cache.ts';
import type { LinkStore } from '../store/link-store.ts';
import { isExpired, type Link } from './link.ts';

export type Resolution =
  | {
      status: 'found' | 'expired';
      id: string;
      ownerId: string;
      targetUrl: string;
      expiresAt: number | null;
    }
  | { status: 'not_found' }
  /** The lookup needed the database and it did not answer: only this code fails, with `error`. */
  | { status: 'unavailable'; error: DomainError };

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
    case 'unavailable':
      return resolution.error;
  }
}

function fromCached(entry: CachedResolution, now: number): Resolution {
  if (entry.kind === 'absent') return NOT_FOUND;
  const expired = entry.expiresAt !== null && entry.expiresAt <= now;
  return {
    status: expired ? 'expired' : 'found',
    id: entry.id,
    ownerId: entry.ownerId,
    targetUrl: entry.targetUrl,
    expiresAt: entry.expiresAt,
  };
}

function fromLink(link: Link | null, now: number): Resolution {
  if (!link) return NOT_FOUND;
  return {
    status: isExpired(link, now) ? 'expired' : 'found',
    id: link.id,
    ownerId: link.ownerId,
    targetUrl: link.targetUrl,
    expiresAt: link.expiresAt ? link.expiresAt.getTime() : null,
  };
}

export class LinkResolver {
  readonly #store: LinkStore;
  readonly #cache: LinkCache;
  readonly #now: () => number;
  /** Database reads under way, by code: later askers wait for the same read. */
  readonly #inFlight = new Map<string, Promise<Link | null>>();

  readonly #onFailure: (error: unknown) => void;

  /** `onFailure` hears about database reads that failed (their codes resolve `unavailable`). */
  constructor(
    store: LinkStore,
    cache: LinkCache,
    options: { now?: () => number; onFailure?: (error: unknown) => void } = {},
  ) {
    this.#store = store;
    this.#cache = cache;
    this.#now = options.now ?? Date.now;
    this.#onFailure = options.onFailure ?? (() => {});
  }

  async resolve(code: string): Promise<Resolution> {
    return (await this.resolveMany([code]))[0] ?? NOT_FOUND;
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
      results[misses[j] as number] = fromLink(links[j] ?? null, now);
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
