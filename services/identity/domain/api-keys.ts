// Members' API keys: named bearer tokens for scripts and integrations, that
// authenticate like a session (see authentication.ts) until revoked. The key
// is shown once, when it is made; only its hash is kept, and listing shows
// names, dates and when each was last used, never a secret.
import type { Caller } from '../../../lib/callers.ts';
import { isSnowflake } from '../../../lib/ids/snowflake.ts';
import { identityErrors } from '../errors.ts';
import type { StoredApiKey } from '../store/api-key-store.ts';
import { type MemberDeps, requireMember } from './members.ts';
import { newToken, tokenHash } from './tokens.ts';

export const MAX_API_KEY_NAME = 100;
export const MAX_LIVE_API_KEYS = 100;

export type ApiKey = Omit<StoredApiKey, 'memberId' | 'revokedAt'>;

function publicView(key: StoredApiKey): ApiKey {
  return { id: key.id, name: key.name, createdAt: key.createdAt, lastUsedAt: key.lastUsedAt };
}

function checkName(raw: string): string {
  const name = raw.trim();
  if (name.length === 0 || [...name].length > MAX_API_KEY_NAME || /[\p{Cc}]/u.test(name)) {
    throw identityErrors.invalid_api_key_name({ max: MAX_API_KEY_NAME });
  }
  return name;
}

export async function createApiKey(
  deps: MemberDeps,
  caller: Caller,
  rawName: string,
): Promise<{ apiKey: ApiKey; key: string }> {
  requireMember(caller);
  const name = checkName(rawName);
  const live = await deps.apiKeys.liveApiKeys(caller.id);
  if (live.length >= MAX_LIVE_API_KEYS) {
    throw identityErrors.too_many_api_keys({ max: MAX_LIVE_API_KEYS });
  }
  const key = newToken('apiKey');
  const apiKey: ApiKey = {
    id: deps.ids.next(),
    name,
    createdAt: new Date(deps.now()),
    lastUsedAt: null,
  };
  await deps.apiKeys.insertApiKey({ ...apiKey, memberId: caller.id }, tokenHash(key));
  return { apiKey, key };
}

export async function listApiKeys(deps: MemberDeps, caller: Caller): Promise<ApiKey[]> {
  requireMember(caller);
  return (await deps.apiKeys.liveApiKeys(caller.id)).map(publicView);
}

/** Someone else's key, a revoked one and one nobody has all read the same. */
export async function revokeApiKey(deps: MemberDeps, caller: Caller, id: string): Promise<void> {
  requireMember(caller);
  if (!isSnowflake(id)) throw identityErrors.invalid_api_key_id();
  if (!(await deps.apiKeys.revokeApiKey(id, caller.id, new Date(deps.now())))) {
    throw identityErrors.api_key_not_found();
  }
  // Known here by its id only: the member's cached authentications all go,
  // which costs the member's other credentials one fresh check each.
  await deps.revocations.announce({ principalId: caller.id });
}
