// Redis restarted under traffic: redirects keep answering from the database
// while it is gone, creation fails closed (503: the limiter is gone), and both
// recover on their own once it is back, with no restart of any service.
// While its worker-id lease cannot be confirmed, link reports `:ids` NOT_SERVING.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { dialable } from '../../lib/config/parsers.ts';
import { healthChecker } from '../../lib/grpc/health-client.ts';
import { startMesh } from '../../mesh.ts';
import { call, newGuest, shorten } from '../support/http.ts';
import { startTestMesh, type TestMesh, testConfig } from '../support/mesh.ts';
import { expectProblem } from '../support/problems.ts';
import { OwnRedis } from '../support/redis-server.ts';
import { sleep, within } from '../support/wait.ts';

const IDS = 'shortener.v1.LinkService:ids';
let redis: OwnRedis;
let mesh: TestMesh;

beforeAll(async () => {
  redis = await OwnRedis.start();
  // No near cache, so every redirect crosses to the link service and its cache.
  // A short lease, so the outage outlasts it: the link service then reports it cannot issue ids.
  mesh = await startTestMesh('mysql+redis', {
    REDIS_URL: redis.url,
    NEAR_CACHE_SIZE: '0',
    SNOWFLAKE_LEASE_TTL: '4s',
  });
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
      await sleep(10);
    }
  })();

  await sleep(300);
  await redis.kill();
  const outageStart = statuses.length;
  await sleep(1_500);

  // During the outage: redirects answer from the database, creation fails closed.
  const during = await shorten(mesh.url, token, 'https://example.com/during-outage');
  // Refused for the limiter, or (once the lease has lapsed) at once for the ids: 503 either way.
  expect(during.status).toBe(503);
  expect(['limiter_unavailable', 'no_worker_lease']).toContain(during.body.code);
  // Once its lease can no longer be confirmed, link says it cannot issue ids, and still serves.
  const health = healthChecker(dialable(mesh.mesh.link.address));
  try {
    await within(10_000, async () => (await health.status(IDS, 500)) === 'NOT_SERVING');
    expect(await health.status('shortener.v1.LinkService', 500)).toBe('SERVING');
  } finally {
    health.close();
  }
  const outageRedirects = statuses.length - outageStart;
  expect(outageRedirects).toBeGreaterThan(10);

  await redis.start();
  // The lease lapsed during the outage: link waits out one TTL on its id, then issues again...
  const healthAfter = healthChecker(dialable(mesh.mesh.link.address));
  try {
    await within(15_000, async () => (await healthAfter.status(IDS, 500)) === 'SERVING');
  } finally {
    healthAfter.close();
  }
  // ...so creation recovers by itself...
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

  // Traffic goes on after the restart (waited for by count, not by time: a
  // loaded machine answers fewer per second).
  const afterRestart = statuses.length;
  await within(10_000, async () => statuses.length >= afterRestart + 20);
  running = false;
  await traffic;
  expect(statuses.filter((status) => status !== 302)).toEqual([]);
}, 60_000);

test('when the mesh starts while Redis is down, then it redirects from the database, refuses creation, and creates once Redis is back', async () => {
  const own = await OwnRedis.start();
  const { config, cleanup } = testConfig('mysql+redis', {
    REDIS_URL: own.url,
    NEAR_CACHE_SIZE: '0',
    SNOWFLAKE_LEASE_TTL: '2s',
    // The test polls creation until it works again: every try counts.
    RATE_LIMIT_CREATE_PER_PRINCIPAL: '10000/1m',
  });
  let first: Awaited<ReturnType<typeof startMesh>> | undefined = await startMesh(config);
  let second: Awaited<ReturnType<typeof startMesh>> | undefined;
  try {
    const token = await newGuest(first.gateway.url);
    const code = (await shorten(first.gateway.url, token, 'https://example.com/before-restart'))
      .body.code;
    await first.stop();
    first = undefined;

    await own.kill();
    second = await startMesh(config);
    const url = second.gateway.url;
    const redirect = await call(url, 'GET', `/${code}`);
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('location')).toBe('https://example.com/before-restart');
    expect((await shorten(url, token, 'https://example.com/while-down')).status).toBe(503);

    await own.start();
    await within(
      15_000,
      async () => (await shorten(url, token, 'https://example.com/after')).status === 201,
    );
  } finally {
    await first?.stop();
    await second?.stop();
    await cleanup();
    await own.kill();
  }
}, 90_000);

test('when the cache is unreachable, then a delete is refused with 503 and the link keeps working', async () => {
  const own = await OwnRedis.start();
  const test = await startTestMesh('mysql+redis', { REDIS_URL: own.url, NEAR_CACHE_SIZE: '0' });
  try {
    const token = await newGuest(test.url);
    const code = (await shorten(test.url, token, 'https://example.com/keep-me')).body.code;
    await own.kill();

    const refused = await call(test.url, 'DELETE', `/api/v1/links/${code}`, { token });
    expectProblem(refused, 503, { code: 'cache_unavailable' });
    expect((await call(test.url, 'GET', `/${code}`)).status).toBe(302);
    expect((await call(test.url, 'GET', `/api/v1/links/${code}`, { token })).status).toBe(200);

    await own.start();
    await within(
      10_000,
      async () =>
        (await call(test.url, 'DELETE', `/api/v1/links/${code}`, { token })).status === 204,
    );
    expect((await call(test.url, 'GET', `/${code}`)).status).toBe(404);
  } finally {
    await test.stop();
    await own.kill();
  }
}, 60_000);
