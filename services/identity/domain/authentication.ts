// Authenticating bearer tokens, whoever they were issued to: sessions (of
// guests and members) and members' API keys. Every refusal reads the same,
// so a caller learns nothing about why. Authenticating writes nothing a
// request waits for: an API key's last use is written at most once per
// interval, off the call, so authentication goes on while the database
// cannot take writes.
import type { RevocationAnnouncer } from '../../../lib/auth/revocations.ts';
import { outsideCall } from '../../../lib/call-scope.ts';
import type { Logger } from '../../../lib/log.ts';
import { identityErrors } from '../errors.ts';
import type { ApiKeyStore } from '../store/api-key-store.ts';
import type { IdentityStore } from '../store/identity-store.ts';
import type { Principal } from './principal.ts';
import { looksLikeToken, tokenHash } from './tokens.ts';

export interface AuthenticationDeps {
  store: IdentityStore;
  apiKeys: ApiKeyStore;
  log: Logger;
  now: () => number;
  /** Told of every revocation once it is stored, for the gateways' caches. */
  revocations: RevocationAnnouncer;
}

/** An API key's lastUsedAt is exact to within this much. */
export const API_KEY_USE_PRECISION_MS = 60_000;

async function authenticateApiKey(deps: AuthenticationDeps, key: string): Promise<Principal> {
  const stored = await deps.apiKeys.findApiKey(tokenHash(key));
  if (!stored || stored.revokedAt !== null) throw identityErrors.invalid_token();
  const now = deps.now();
  if (!stored.lastUsedAt || stored.lastUsedAt.getTime() < now - API_KEY_USE_PRECISION_MS) {
    outsideCall(() =>
      deps.apiKeys.touchApiKey(stored.id, new Date(now), new Date(now - API_KEY_USE_PRECISION_MS)),
    ).catch((error: unknown) =>
      deps.log.debug({ cause: (error as Error).message }, 'API key last use not written'),
    );
  }
  return { id: stored.memberId, kind: 'member' };
}

export interface Authentication {
  principal: Principal;
  /** When the token stops authenticating of itself; null for an API key. */
  expiresAt: Date | null;
}

/** Whom the token belongs to, and until when. */
export async function authentication(
  deps: AuthenticationDeps,
  token: string,
): Promise<Authentication> {
  if (looksLikeToken(token, 'apiKey')) {
    return { principal: await authenticateApiKey(deps, token), expiresAt: null };
  }
  if (!looksLikeToken(token)) throw identityErrors.invalid_token();
  const stored = await deps.store.findToken(tokenHash(token));
  if (!stored || stored.revokedAt !== null || stored.expiresAt.getTime() <= deps.now()) {
    throw identityErrors.invalid_token();
  }
  return {
    principal: { id: stored.principalId, kind: stored.principalKind },
    expiresAt: stored.expiresAt,
  };
}

export async function authenticate(deps: AuthenticationDeps, token: string): Promise<Principal> {
  return (await authentication(deps, token)).principal;
}

/** Revokes a session, or the API key presented in its place. */
export async function revokeToken(deps: AuthenticationDeps, token: string): Promise<void> {
  const at = new Date(deps.now());
  if (looksLikeToken(token, 'apiKey')) {
    const key = await deps.apiKeys.findApiKey(tokenHash(token));
    if (!key) throw identityErrors.invalid_token();
    await deps.apiKeys.revokeApiKey(key.id, key.memberId, at);
    await deps.revocations.announce({ tokenHash: tokenHash(token) });
    return;
  }
  if (!looksLikeToken(token)) throw identityErrors.invalid_token();
  const hash = tokenHash(token);
  if (!(await deps.store.findToken(hash))) throw identityErrors.invalid_token();
  await deps.store.revokeToken(hash, at);
  await deps.revocations.announce({ tokenHash: hash });
}
