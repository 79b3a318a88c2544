// Authenticating bearer tokens, whoever they were issued to: sessions (of
// guests and members) and members' API keys. Every refusal reads the same,
// so a caller learns nothing about why. Authenticating writes nothing a
// request waits for: an API key's last use is written at most once per
// interval, off the call, so authentication goes on while the database
// cannot take writes.
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

export async function authenticate(deps: AuthenticationDeps, token: string): Promise<Principal> {
  if (looksLikeToken(token, 'apiKey')) return authenticateApiKey(deps, token);
  if (!looksLikeToken(token)) throw identityErrors.invalid_token();
  const stored = await deps.store.findToken(tokenHash(token));
  if (!stored || stored.revokedAt !== null || stored.expiresAt.getTime() <= deps.now()) {
    throw identityErrors.invalid_token();
  }
  return { id: stored.principalId, kind: stored.principalKind };
}

/** Revokes a session, or the API key presented in its place. */
export async function revokeToken(deps: AuthenticationDeps, token: string): Promise<void> {
  const at = new Date(deps.now());
  if (looksLikeToken(token, 'apiKey')) {
    const key = await deps.apiKeys.findApiKey(tokenHash(token));
    if (!key) throw identityErrors.invalid_token();
    await deps.apiKeys.revokeApiKey(key.id, key.memberId, at);
    return;
  }
  if (!looksLikeToken(token)) throw identityErrors.invalid_token();
  const hash = tokenHash(token);
  if (!(await deps.store.findToken(hash))) throw identityErrors.invalid_token();
  await deps.store.revokeToken(hash, at);
}
