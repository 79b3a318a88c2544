// Shortening a URL: check the target, spend the caller's and the client IP's
// rate budgets, then store the link under the member's alias or a fresh
// random code. An existing link is handed back only when the request asks for
// nothing it lacks (link.proto, CreateLink):
// - without an alias, the caller's live generated link for the same URL. The
//   insert comes first (most URLs are new, so most creates are one
//   statement): the unique index on (owner, URL) refuses a second live link,
//   also between racing requests, and only then is the holder read.
// - with an alias, the caller's own live link under it with the same target
//   and expiry (a retry). The unique index on code decides who gets an alias;
//   a link made under an alias never holds the (owner, URL) place, which
//   belongs to the URL's generated link alone.
import type { RateRule } from '../../../lib/config/parsers.ts';
import type { SnowflakeGenerator } from '../../../lib/ids/snowflake.ts';
import type { RateLimiter } from '../../../lib/limiter/limiter.ts';
import { runtimeErrors } from '../../../lib/runtime-errors.ts';
import { linkErrors } from '../errors.ts';
import type { LinkCache } from '../store/link-cache.ts';
import type { LinkStore } from '../store/link-store.ts';
import { isExpired } from './expiry.ts';
import type { Caller, Link } from './link.ts';
import { checkAlias, randomCode } from './short-code.ts';
import { checkTarget, type TargetPolicy, urlHash } from './target-url.ts';

export interface CreateLinkDeps {
  store: LinkStore;
  cache: LinkCache;
  limiter: RateLimiter;
  ids: SnowflakeGenerator;
  policy: TargetPolicy;
  codeLength: number;
  limits: { perPrincipal: RateRule; perIp: RateRule };
  now: () => number;
  /** The idle period: an owner's expired link is never handed back. */
  idleMs: number;
}

export interface CreateLinkInput {
  targetUrl: string;
  expiresAt: Date | null;
  clientIp: string;
  /** The member's chosen code; empty for a generated one. */
  alias: string;
  /** The most redirects the link answers; null for no limit. */
  maxVisits: number | null;
}

/** The largest visit limit a link may have. */
export const MAX_VISITS_LIMIT = 1_000_000_000;

function checkMaxVisits(maxVisits: number | null): void {
  if (maxVisits === null) return;
  if (!Number.isInteger(maxVisits) || maxVisits < 1 || maxVisits > MAX_VISITS_LIMIT) {
    throw linkErrors.invalid_max_visits({ max: MAX_VISITS_LIMIT });
  }
}

export interface CreatedLink {
  link: Link;
  created: boolean;
}

const CODE_ATTEMPTS = 5;

/**
 * The latest explicit expiry: every store must hold it (MariaDB's DATETIME
 * ends with 9999-12-31), and a whole year of margin leaves no doubt about
 * time zones or rounding. A link that should never expire by date has none.
 */
export const EXPIRY_LIMIT = new Date('9999-01-01T00:00:00.000Z');

/** An expiry must lie in the future and before EXPIRY_LIMIT (NaN, from a wild timestamp, is neither). */
function checkExpiry(expiresAt: Date | null, now: number): void {
  if (expiresAt === null) return;
  const at = expiresAt.getTime();
  if (at <= now) throw linkErrors.expiry_in_past();
  if (!(at < EXPIRY_LIMIT.getTime())) throw linkErrors.expiry_too_late({ limit: EXPIRY_LIMIT });
}

/**
 * The caller's own budget first: a caller over its limit is refused without
 * spending the budget it shares with everyone behind the same address. A
 * request without an address (an internal caller) shares one bucket.
 */
async function spendBudget(deps: CreateLinkDeps, caller: Caller, clientIp: string): Promise<void> {
  const perCaller = await deps.limiter.consume(
    'create-principal',
    deps.limits.perPrincipal,
    caller.id,
  );
  if (!perCaller.allowed) {
    throw runtimeErrors.rate_limited(
      { what: 'links created' },
      { retryAfterMs: perCaller.retryAfterMs },
    );
  }
  const perIp = await deps.limiter.consume('create-ip', deps.limits.perIp, clientIp || 'unknown');
  if (!perIp.allowed) {
    throw runtimeErrors.rate_limited(
      { what: 'links created from this address' },
      { retryAfterMs: perIp.retryAfterMs },
    );
  }
}

/** Only members choose aliases: the permission is answered before the alias's form. */
function checkAliasRequest(caller: Caller, alias: string): void {
  if (caller.kind !== 'member') throw linkErrors.alias_members_only();
  checkAlias(alias);
}

export async function createLink(
  deps: CreateLinkDeps,
  caller: Caller,
  input: CreateLinkInput,
): Promise<CreatedLink> {
  const targetUrl = checkTarget(input.targetUrl, deps.policy);
  checkExpiry(input.expiresAt, deps.now());
  checkMaxVisits(input.maxVisits);
  if (input.alias) checkAliasRequest(caller, input.alias);
  // An instance that cannot issue ids (its Redis is gone) refuses at once,
  // before waiting on a limiter it cannot reach: nothing is spent or stored,
  // so the caller may send the create to another instance.
  if (!deps.ids.canIssue) throw runtimeErrors.no_worker_lease();
  await spendBudget(deps, caller, input.clientIp);
  const requested = { targetUrl, expiresAt: input.expiresAt, maxVisits: input.maxVisits };
  if (input.alias) return createUnderAlias(deps, caller, input.alias, requested);
  // A limited link is its own: it never holds nor takes the URL's (owner, URL) place.
  if (input.maxVisits !== null) return createUnderFreshCode(deps, caller, requested);
  return createUnderGeneratedCode(deps, caller, requested);
}

type Requested = Pick<Link, 'targetUrl' | 'expiresAt' | 'maxVisits'>;

/**
 * Whether a link of the same owner and URL already is what the request asks
 * for: shortening again returns it only when the request asks for nothing it
 * lacks (an explicit expiry it does not have).
 */
function answers(link: Link, requested: Requested): boolean {
  return (
    requested.expiresAt === null || link.expiresAt?.getTime() === requested.expiresAt.getTime()
  );
}

function newLink(deps: CreateLinkDeps, caller: Caller, code: string, requested: Requested): Link {
  return {
    id: deps.ids.next(),
    code,
    targetUrl: requested.targetUrl,
    ownerId: caller.id,
    createdAt: new Date(deps.now()),
    expiresAt: requested.expiresAt,
    ownerKind: caller.kind,
    maxVisits: requested.maxVisits,
    lastAccessedAt: null,
    extendedTo: null,
    exhaustedAt: null,
  };
}

/**
 * Stores the link and fills the cache; a guest a member has adopted makes no
 * more links (the insert refuses it, see LinkStore.insert). Any other outcome
 * is the caller's to handle.
 */
async function store(
  deps: CreateLinkDeps,
  link: Link,
  urlHash: string | null,
): Promise<'inserted' | 'code_taken' | 'url_taken'> {
  const outcome = await deps.store.insert(link, urlHash);
  if (outcome === 'adopted') throw linkErrors.guest_adopted();
  if (outcome === 'inserted') await deps.cache.put(link);
  return outcome;
}

/** A new link under a new generated code, claiming no (owner, URL) place. */
async function createUnderFreshCode(
  deps: CreateLinkDeps,
  caller: Caller,
  requested: Requested,
): Promise<CreatedLink> {
  for (let attempt = 0; attempt < CODE_ATTEMPTS; attempt++) {
    const link = newLink(deps, caller, randomCode(deps.codeLength), requested);
    if ((await store(deps, link, null)) === 'inserted') return { link, created: true };
  }
  throw linkErrors.code_space_exhausted();
}

async function createUnderGeneratedCode(
  deps: CreateLinkDeps,
  caller: Caller,
  requested: Requested,
): Promise<CreatedLink> {
  const hash = urlHash(requested.targetUrl);
  for (let attempt = 0; attempt < CODE_ATTEMPTS; attempt++) {
    const link = newLink(deps, caller, randomCode(deps.codeLength), requested);
    const outcome = await store(deps, link, hash);
    if (outcome === 'inserted') return { link, created: true };
    if (outcome === 'code_taken') continue; // an alias may hold it, or a tombstone
    // The owner has a link for this URL (made earlier, or by a request racing this one).
    const holder = await deps.store.findByOwnerAndUrl(caller.id, hash);
    // Deleted or retired meanwhile: the slot is free again.
    if (!holder) continue;
    if (isExpired(holder, deps.idleMs, deps.now())) {
      // An expired link keeps answering 410 under its code; the URL gets a new one.
      await deps.store.retireUrl(holder.id);
      continue;
    }
    if (answers(holder, requested)) return { link: holder, created: false };
    // The request asks for an expiry the URL's link lacks: a link of its own, as for an alias.
    return createUnderFreshCode(deps, caller, requested);
  }
  throw linkErrors.code_space_exhausted();
}

/**
 * The insert is the only check: the unique index on code gives the alias to
 * exactly one of any number of racing requests, and the row that holds it
 * says why the others lost.
 */
async function createUnderAlias(
  deps: CreateLinkDeps,
  caller: Caller,
  alias: string,
  requested: Requested,
): Promise<CreatedLink> {
  const link = newLink(deps, caller, alias, requested);
  // No URL hash: the (owner, URL) place stays with the URL's generated link.
  if ((await store(deps, link, null)) === 'inserted') return { link, created: true };
  const holder = await deps.store.findByCode(alias);
  if (holder?.deletedAt) throw linkErrors.alias_retired();
  if (holder && isSameRequest(holder, caller, requested, deps.idleMs, deps.now())) {
    return { link: holder, created: false };
  }
  throw linkErrors.alias_taken();
}

/** The caller's live link with what was asked for: the same request, made again. */
function isSameRequest(
  holder: Link,
  caller: Caller,
  requested: Requested,
  idleMs: number,
  now: number,
): boolean {
  return (
    holder.ownerId === caller.id &&
    !isExpired(holder, idleMs, now) &&
    holder.maxVisits === requested.maxVisits &&
    holder.targetUrl === requested.targetUrl &&
    (holder.expiresAt?.getTime() ?? null) === (requested.expiresAt?.getTime() ?? null)
  );
}
