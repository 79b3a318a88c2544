// The shared cache never holds a live link past the expiry its entry
// carries, on Redis: use may push the idle expiry out meanwhile, so the next
// resolve must read the link again rather than answer 410 from the cache.
// Entries of links already expired say so, for the negative TTL.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { RedisCache } from '../../lib/cache/redis-cache.ts';
import { LinkResolver } from '../../services/link/domain/resolve-links.ts';
import { LinkCache } from '../../services/link/store/link-cache.ts';
import type { LinkStore } from '../../services/link/store/link-store.ts';
import { DAY, TestClock } from '../support/clock.ts';
import { REDIS_URL, uniqueName } from '../support/env.ts';
import { aLink } from '../support/links.ts';
import { testLog } from '../support/logger.ts';

const IDLE = 180 * DAY;
const prefix = `${uniqueName('linkttl')}:`;
let redis: Redis;

beforeAll(() => {
  redis = new Redis(REDIS_URL);
});
afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(keys);
  await redis.quit();
});

test('when a link is cached an hour or less before its expiry, then its entry lives until that expiry and no longer; an expired one for the negative TTL', async () => {
  const clock = new TestClock(Date.UTC(2027, 0, 1));
  const cache = new LinkCache(new RedisCache(redis, prefix), {
    ttlMs: 3_600_000,
    negativeTtlMs: 30_000,
    log: testLog,
    idleMs: IDLE,
    now: clock.now,
  });
  const ttlOf = (code: string) => redis.pttl(`${prefix}cache:link:${code}`);

  const far = aLink({ code: 'farAway', createdAt: new Date(clock.now()) });
  await cache.put(far);
  expect(await ttlOf('farAway')).toBeGreaterThan(3_590_000);

  const near = aLink({ code: 'nearEnd', createdAt: new Date(clock.now() - IDLE + 5_000) });
  await cache.put(near);
  const nearTtl = await ttlOf('nearEnd');
  expect(nearTtl).toBeGreaterThan(0);
  expect(nearTtl).toBeLessThanOrEqual(5_000);

  const gone = aLink({ code: 'pastEnd', createdAt: new Date(clock.now() - IDLE - 1) });
  await cache.put(gone);
  expect(await ttlOf('pastEnd')).toBeGreaterThan(25_000);
  expect(await ttlOf('pastEnd')).toBeLessThanOrEqual(30_000);

  // What the cache answers for them: found, found, and expired (with the expiry that applied).
  const store = { findByCodes: async () => [] } as unknown as LinkStore;
  const resolver = new LinkResolver(store, cache, { now: clock.now, idleMs: IDLE });
  const [a, b, c] = await resolver.resolveMany(['farAway', 'nearEnd', 'pastEnd']);
  expect([a?.status, b?.status, c?.status]).toEqual(['found', 'found', 'expired']);
  expect(c?.status === 'expired' && c.expiresAt).toBe(gone.createdAt.getTime() + IDLE);
});
