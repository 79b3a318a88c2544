// Guests: callers without an account, known by a Snowflake id and a bearer
// token. Issuing them is rate limited per client IP, or anyone could mint
// fresh guests to escape the per-caller limits.
import type { RateRule } from '../../../lib/config/parsers.ts';
import type { SnowflakeGenerator } from '../../../lib/ids/snowflake.ts';
import type { RateLimiter } from '../../../lib/limiter/limiter.ts';
import { runtimeErrors } from '../../../lib/runtime-errors.ts';
import type { IdentityStore } from '../store/identity-store.ts';
import type { Principal } from './principal.ts';
import { newToken, tokenHash } from './tokens.ts';

export interface GuestDeps {
  store: IdentityStore;
  limiter: RateLimiter;
  ids: SnowflakeGenerator;
  guestsPerIp: RateRule;
  tokenTtlMs: number;
  now: () => number;
}

export interface IssuedGuest {
  guest: Principal;
  token: string;
  tokenExpiresAt: Date;
}

export async function issueGuest(deps: GuestDeps, clientIp: string): Promise<IssuedGuest> {
  const budget = await deps.limiter.consume('guests-ip', deps.guestsPerIp, clientIp || 'unknown');
  if (!budget.allowed) {
    throw runtimeErrors.rate_limited(
      { what: 'guests issued to this address' },
      { retryAfterMs: budget.retryAfterMs },
    );
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
