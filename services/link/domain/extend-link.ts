// Pushing a link's expiry out: by its owner (ExtendLink), or by whoever holds
// the signed token of its expiry notice (ExtendLinkByToken). The expiry that
// applies now, idle or dated, moves out by a bounded amount; the shared cache
// is rewritten and every watcher drops the code, so the new expiry is what
// every path answers from then on.
import type { VisitCounter } from '../../../lib/counter/visit-counter.ts';
import type { LinkChanges } from '../changes/link-changes.ts';
import { linkErrors } from '../errors.ts';
import type { ExpiryStore } from '../store/expiry-store.ts';
import type { LinkCache } from '../store/link-cache.ts';
import type { LinkStore } from '../store/link-store.ts';
import { EXPIRY_LIMIT } from './create-link.ts';
import { effectiveExpiry, extendedTo } from './expiry.ts';
import type { ExtendTokens } from './extend-token.ts';
import type { Caller, Link, StoredLink } from './link.ts';
import { ownLink } from './manage-links.ts';

export interface ExtendLinkDeps {
  store: LinkStore;
  expiry: ExpiryStore;
  cache: LinkCache;
  changes: LinkChanges;
  tokens: ExtendTokens;
  now: () => number;
  idleMs: number;
  extendDefaultMs: number;
  extendMaxMs: number;
  /** The visit budgets: a limited link's visits may have run out before it is marked so. */
  visits: VisitCounter;
}

/** Attempts when another writer moves the same link's expiry meanwhile. */
const ATTEMPTS = 5;

/** How far a request may push: positive, at most the maximum; the default when not given. */
function checkExtension(deps: ExtendLinkDeps, byMs: number | undefined): number {
  if (byMs === undefined) return deps.extendDefaultMs;
  if (!Number.isSafeInteger(byMs) || byMs <= 0 || byMs > deps.extendMaxMs) {
    throw linkErrors.invalid_extension({ maxMs: deps.extendMaxMs });
  }
  return byMs;
}

/**
 * Too late to extend: the link has expired, or used up its visits. The
 * counter decides the visits: the last one is refused (410) as soon as it is
 * spent, and the link is marked exhausted only after.
 */
async function refuseIfOver(
  deps: ExtendLinkDeps,
  link: StoredLink,
  expiry: number,
  now: number,
): Promise<void> {
  if (link.exhaustedAt !== null) throw linkErrors.visits_exhausted();
  if (link.maxVisits !== null) {
    const [spent] = await deps.visits.spent([link.id]);
    if ((spent ?? 0) >= link.maxVisits) throw linkErrors.visits_exhausted();
  }
  if (expiry <= now) throw linkErrors.link_expired();
}

async function extend(
  deps: ExtendLinkDeps,
  read: StoredLink,
  byMs: number,
  expected?: number,
): Promise<Link> {
  let link: StoredLink | null = read;
  for (let attempt = 0; attempt < ATTEMPTS && link; attempt++) {
    const now = deps.now();
    const current = effectiveExpiry(link, deps.idleMs);
    if (expected !== undefined && current !== expected) {
      // A token is for one expiry: one that passed, or moved since.
      if (expected <= now) throw linkErrors.extend_token_expired();
      throw linkErrors.extend_token_used();
    }
    await refuseIfOver(deps, link, current, now);
    const target = current + byMs;
    if (target >= EXPIRY_LIMIT.getTime()) throw linkErrors.expiry_too_late({ limit: EXPIRY_LIMIT });
    const change = extendedTo(link, target);
    if (await deps.expiry.extend(link, change)) {
      const extended = { ...link, ...change };
      await deps.cache.put(extended);
      await deps.changes.announce(extended.code);
      return extended;
    }
    link = await deps.expiry.findById(link.id);
    if (link?.deletedAt) link = null;
  }
  if (!link) throw linkErrors.link_not_found();
  // Others kept moving it: the caller may try again.
  throw linkErrors.extend_token_used();
}

export async function extendLink(
  deps: ExtendLinkDeps,
  caller: Caller,
  code: string,
  byMs: number | undefined,
): Promise<Link> {
  const by = checkExtension(deps, byMs);
  const link = await ownLink(deps, caller, code);
  return extend(deps, link, by);
}

/** The notice's one-click extension: the default extension, once, for the expiry the token names. */
export async function extendLinkByToken(deps: ExtendLinkDeps, token: string): Promise<Link> {
  const grant = deps.tokens.verify(token);
  if (grant.expiresAt <= deps.now()) throw linkErrors.extend_token_expired();
  const link = await deps.expiry.findById(grant.linkId);
  if (!link || link.deletedAt) throw linkErrors.link_not_found();
  return extend(deps, link, deps.extendDefaultMs, grant.expiresAt);
}

/** A link as its answers show it: the expiry that applies now and the visits left. */
export interface LinkView extends Link {
  effectiveExpiresAt: number;
  /** null when unlimited. */
  visitsLeft: number | null;
}

/** Views of links, reading the visit counters of the limited ones in one round trip. */
export async function viewLinks(
  deps: { visits: VisitCounter; idleMs: number },
  links: readonly Link[],
): Promise<LinkView[]> {
  const limited = links.filter((link) => link.maxVisits !== null && link.exhaustedAt === null);
  const spent = limited.length > 0 ? await deps.visits.spent(limited.map((link) => link.id)) : [];
  const spentById = new Map(limited.map((link, i) => [link.id, spent[i] ?? 0]));
  return links.map((link) => ({
    ...link,
    effectiveExpiresAt: effectiveExpiry(link, deps.idleMs),
    visitsLeft:
      link.maxVisits === null
        ? null
        : link.exhaustedAt !== null
          ? 0
          : Math.max(0, link.maxVisits - (spentById.get(link.id) ?? 0)),
  }));
}
