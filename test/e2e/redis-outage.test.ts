// Redis restarted under traffic: redirects keep answering from the database
// while it is gone, creation fails closed (503: the limiter is gone), and both
// recover on their own once it is back, with no restart of any service.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { call, newGuest, shorten, within } from '../support/http.ts';
import { startTestMesh, type TestMesh } from '../support/mesh.ts';
import { OwnRedis } from '../support/redis-server.ts';

let redis: OwnRedis;
let mesh: TestMesh;

beforeAll(async () => {
  redis = await OwnRedis.start();
  // No near cache, so every redirect crosses to the link service and its cache.
  mesh = await startTestMesh('mysql+redis', { REDIS_URL: redis.url, NEAR_CACHE_SIZE: '0' });
});
afterAll(async () => {
  await mesh?.stop();
  await redis?.kill();
});

test('when Redis restarts mid-traffic, then redirects never fail and the cache and creation come back', async () => {
  const token = await newGuest(mesh.url);
  const codes: string[] = [];
  for (let i = 0; i < 5; i++)
    codes.push((await shorten(mesh.url, token, `https://example.com/outage/${i}`)).body.code);

  // Steady traffic across the whole story.
  const statuses: number[] = [];
  let running = true;
  const traffic = (async () => {
    for (let i = 0; running; i++) {
      const answer = await call(mesh.url, 'GET', `/${codes[i % codes.length]}`);
      statuses.push(answer.status);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();

  await new Promise((resolve) => setTimeout(resolve, 300));
  await redis.kill();
  const outageStart = statuses.length;
  await new Promise((resolve) => setTimeout(resolve, 1_500));

  // During the outage: redirects answer from the database, creation fails closed.
  const during = await shorten(mesh.url, token, 'https://example.com/during-outage');
  expect(during.status).toBe(503);
  expect(during.body.code).toBe('limiter_unavailable');
  const outageRedirects = statuses.length - outageStart;
  expect(outageRedirects).toBeGreaterThan(10);

  await redis.start();
  // Creation recovers by itself...
  await within(
    10_000,
    async () =>
      (await shorten(mesh.url, token, `https://example.com/after/${Date.now()}`)).status === 201,
  );
  // ...and resolves use the cache again: a redirect writes its entry into the new Redis.
  const probe = new Redis(redis.url);
  probe.on('error', () => {}); // refused until the restarted server is up: expected
  try {
    await within(5_000, async () => {
      await call(mesh.url, 'GET', `/${codes[0]}`);
      return (await probe.exists(`${mesh.config.redisKeyPrefix}cache:link:${codes[0]}`)) === 1;
    });
  } finally {
    probe.disconnect();
  }

  running = false;
  await traffic;
  expect(statuses.length).toBeGreaterThan(outageRedirects + 20);
  expect(statuses.filter((status) => status !== 302)).toEqual([]);
}, 60_000);
