// Authenticating bearer tokens, whoever they were issued to, and revoking
// them. Every refusal reads the same, so a caller learns nothing about why.
import { identityErrors } from '../errors.ts';
import type { IdentityStore } from '../store/identity-store.ts';
import type { Principal } from './principal.ts';
import { looksLikeToken, tokenHash } from './tokens.ts';

export interface AuthenticationDeps {
  store: IdentityStore;
  now: () => number;
}

export async function authenticate(deps: AuthenticationDeps, token: string): Promise<Principal> {
  if (!looksLikeToken(token)) throw identityErrors.invalid_token();
  const stored = await deps.store.findToken(tokenHash(token));
  if (!stored || stored.revokedAt !== null || stored.expiresAt.getTime() <= deps.now()) {
    throw identityErrors.invalid_token();
  }
  return { id: stored.principalId, kind: stored.principalKind };
}

export async function revokeToken(deps: AuthenticationDeps, token: string): Promise<void> {
  if (!looksLikeToken(token)) throw identityErrors.invalid_token();
  const hash = tokenHash(token);
  if (!(await deps.store.findToken(hash))) throw identityErrors.invalid_token();
  await deps.store.revokeToken(hash, new Date(deps.now()));
}
