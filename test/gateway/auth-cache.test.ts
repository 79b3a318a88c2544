// The authentication cache on its own: what it keeps, what drops it, and
// that an answer arriving after a revocation it raced is not kept.
import { describe, expect, test } from 'vitest';
import { AuthCache } from '../../gateway/auth-cache.ts';
import { PrincipalKind } from '../../gen/shortener/v1/principal.ts';
import { decodeRevocation, encodeRevocation } from '../../lib/auth/revocations.ts';

const member = { id: '42', kind: PrincipalKind.PRINCIPAL_KIND_MEMBER };
const guest = { id: '43', kind: PrincipalKind.PRINCIPAL_KIND_GUEST };

function liveCache(): AuthCache {
  const cache = new AuthCache(100, 60_000);
  cache.resume();
  return cache;
}

describe('the authentication cache', () => {
  test('when the broadcast has not said it is live, then nothing is kept', () => {
    const cache = new AuthCache(100, 60_000);
    cache.fill('a', member, cache.epoch, undefined);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  test('when a principal is revoked, then every token of it goes and the others stay', () => {
    const cache = liveCache();
    cache.fill('a', member, cache.epoch, undefined);
    cache.fill('b', member, cache.epoch, undefined);
    cache.fill('c', guest, cache.epoch, undefined);
    cache.revoke({ principalId: '42' });
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('c')).toEqual(guest);
  });

  test('when a revocation arrives while identity is being asked, then its answer is not kept', () => {
    const cache = liveCache();
    const epoch = cache.epoch;
    cache.revoke({ tokenHash: 'elsewhere' });
    cache.fill('a', member, epoch, undefined);
    expect(cache.get('a')).toBeUndefined();
  });

  test('when a token expires before the TTL, then it is not kept past its expiry, and an expired one not at all', async () => {
    const cache = liveCache();
    cache.fill('soon', member, cache.epoch, new Date(Date.now() + 50));
    cache.fill('gone', member, cache.epoch, new Date(Date.now() - 1));
    expect(cache.get('soon')).toEqual(member);
    expect(cache.get('gone')).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(cache.get('soon')).toBeUndefined();
  });

  test('when the broadcast is lost, then the cache empties and keeps nothing until it is back', () => {
    const cache = liveCache();
    cache.fill('a', member, cache.epoch, undefined);
    cache.suspend();
    expect(cache.size).toBe(0);
    cache.fill('b', member, cache.epoch, undefined);
    expect(cache.get('b')).toBeUndefined();
    cache.resume();
    cache.fill('b', member, cache.epoch, undefined);
    expect(cache.get('b')).toEqual(member);
  });

  test('when it is sized 0, then it is off', () => {
    const cache = new AuthCache(0, 60_000);
    cache.resume();
    cache.fill('a', member, cache.epoch, undefined);
    expect(cache.enabled).toBe(false);
    expect(cache.get('a')).toBeUndefined();
  });

  test('revocations read back as they were written, and a payload of no known kind reads as nothing', () => {
    expect(decodeRevocation(encodeRevocation({ tokenHash: 'ab12' }))).toEqual({
      tokenHash: 'ab12',
    });
    expect(decodeRevocation(encodeRevocation({ principalId: '7' }))).toEqual({ principalId: '7' });
    expect(decodeRevocation('x:1')).toBeUndefined();
    expect(decodeRevocation('p:')).toBeUndefined();
  });
});
