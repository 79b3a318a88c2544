// Guests: callers without an account, known by a Snowflake id and a bearer
// token. Issuing them is rate limited per client IP, or anyone could mint
// fresh guests to escape the per-caller limits.
import type { RateRule } from '../../../lib/config.ts';
import { exhausted, unauthenticated } from '../../../lib/errors.ts';
import type { SnowflakeGenerator } from '../../../lib/ids/snowflake.ts';
import type { RateLimiter } from '../../../lib/limiter/limiter.ts';
import type { IdentityStore, PrincipalKindName } from '../store/identity-store.ts';
import { looksLikeToken, newToken, tokenHash } from './tokens.ts';

export interface GuestDeps {
  store: IdentityStore;
  limiter: RateLimiter;
  ids: SnowflakeGenerator;
  guestsPerIp: RateRule;
  tokenTtlMs: number;
  now: () => number;
}

export interface Principal {
  id: string;
  kind: PrincipalKindName;
}

export interface IssuedGuest {
  guest: Principal;
  token: string;
  tokenExpiresAt: Date;
}

export async function issueGuest(deps: GuestDeps, clientIp: string): Promise<IssuedGuest> {
  const budget = await deps.limiter.consume('guests-ip', deps.guestsPerIp, clientIp || 'unknown');
  if (!budget.allowed) {
    throw exhausted('too many guests issued to this address', budget.retryAfterMs);
  }
  const createdAt = new Date(deps.now());
  const guest: Principal = { id: deps.ids.next(), kind: 'guest' };
  const token = newToken();
  const tokenExpiresAt = new Date(createdAt.getTime() + deps.tokenTtlMs);
  await deps.store.insertGuest(
    { id: guest.id, createdAt },
    { hash: tokenHash(token), expiresAt: tokenExpiresAt },
  );
  return { guest, token, tokenExpiresAt };
}

const REFUSED = 'the token is invalid, revoked or expired';

export async function authenticate(
  deps: Pick<GuestDeps, 'store' | 'now'>,
  token: string,
): Promise<Principal> {
  if (!looksLikeToken(token)) throw unauthenticated(REFUSED, 'invalid_token');
  const stored = await deps.store.findToken(tokenHash(token));
  if (!stored || stored.revokedAt !== null || stored.expiresAt.getTime() <= deps.now()) {
    throw unauthenticated(REFUSED, 'invalid_token');
  }
  return { id: stored.principalId, kind: stored.principalKind };
}

export async function revokeToken(
  deps: Pick<GuestDeps, 'store' | 'now'>,
  token: string,
): Promise<void> {
  if (!looksLikeToken(token)) throw unauthenticated(REFUSED, 'invalid_token');
  const hash = tokenHash(token);
  if (!(await deps.store.findToken(hash))) throw unauthenticated(REFUSED, 'invalid_token');
  await deps.store.revokeToken(hash, new Date(deps.now()));
}
