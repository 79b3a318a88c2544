// Shortening a URL: check the target, spend the caller's and the client IP's
// rate budgets, hand back the caller's live link for the same URL if there is
// one, otherwise store a new link under a fresh random code. Two requests
// racing for the same (owner, URL) end with one link: the unique index decides
// and the loser reads the winner's row.
import type { RateRule } from '../../../lib/config/parsers.ts';
import type { SnowflakeGenerator } from '../../../lib/ids/snowflake.ts';
import type { RateLimiter } from '../../../lib/limiter/limiter.ts';
import { runtimeErrors } from '../../../lib/runtime-errors.ts';
import { linkErrors } from '../errors.ts';
import type { LinkCache } from '../store/link-cache.ts';
import type { LinkStore } from '../store/link-store.ts';
import { type Caller, isExpired, type Link } from './link.ts';
import { randomCode } from './short-code.ts';
import { checkTarget, type TargetPolicy, urlHash } from './target-url.ts';

export interface CreateLinkDeps {
  store: LinkStore;
  cache: LinkCache;
  limiter: RateLimiter;
  ids: SnowflakeGenerator;
  policy: TargetPolicy;
  codeLength: number;
  limits: { perPrincipal: RateRule; perIp: RateRule };
  /** Moves an adopted guest's links to its member (see owner-links.ts). */
  adopt: (guestId: string, memberId: string) => Promise<unknown>;
  now: () => number;
}

export interface CreateLinkInput {
  targetUrl: string;
  expiresAt: Date | null;
  clientIp: string;
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

/**
 * A guest a member adopted makes no more links. One made while the adoption
 * ran (after `made` was stored) is moved to the member before the refusal,
 * so no link stays behind with the guest.
 */
async function refuseAdoptedGuest(
  deps: CreateLinkDeps,
  caller: Caller,
  made: Link | null,
): Promise<void> {
  if (caller.kind !== 'guest') return;
  const member = await deps.store.adopterOf(caller.id);
  if (member === null) return;
  if (made) await deps.adopt(caller.id, member);
  throw linkErrors.guest_adopted();
}

export async function createLink(
  deps: CreateLinkDeps,
  caller: Caller,
  input: CreateLinkInput,
): Promise<{ link: Link; created: boolean }> {
  const targetUrl = checkTarget(input.targetUrl, deps.policy);
  checkExpiry(input.expiresAt, deps.now());
  await refuseAdoptedGuest(deps, caller, null);
  await spendBudget(deps, caller, input.clientIp);

  const hash = urlHash(targetUrl);
  const existing = await deps.store.findByOwnerAndUrl(caller.id, hash);
  if (existing) {
    if (!isExpired(existing, deps.now())) return { link: existing, created: false };
    // An expired link keeps answering 410 under its code; the URL gets a new one.
    await deps.store.retireUrl(existing.id);
  }

  for (let attempt = 0; attempt < CODE_ATTEMPTS; attempt++) {
    const link: Link = {
      id: deps.ids.next(),
      code: randomCode(deps.codeLength),
      targetUrl,
      ownerId: caller.id,
      createdAt: new Date(deps.now()),
      expiresAt: input.expiresAt,
    };
    switch (await deps.store.insert(link, hash)) {
      case 'inserted':
        // Adopted while this request ran: the new link goes to the member too.
        await refuseAdoptedGuest(deps, caller, link);
        await deps.cache.put(link);
        return { link, created: true };
      case 'url_taken': {
        // A concurrent request of the same owner stored the URL first: theirs is the link.
        const winner = await deps.store.findByOwnerAndUrl(caller.id, hash);
        if (winner) return { link: winner, created: false };
        // The winner was deleted or retired meanwhile: try again with a new code.
        break;
      }
      case 'code_taken':
        // Draw another code.
        break;
    }
  }
  throw linkErrors.code_space_exhausted();
}
