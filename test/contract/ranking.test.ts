// The live ranking port on both adapters: the same story holds in process,
// in Redis and on a Redis Cluster. Time is a clock the test moves, never a sleep.
import { afterAll, beforeAll, beforeEach, describe, expect, inject, test } from 'vitest';
import { createRedis, type RedisClient, waitForRedis } from '../../lib/redis/client.ts';
import { MemoryRanking } from '../../services/analytics/ranking/memory-ranking.ts';
import type { RankedClick, Ranking } from '../../services/analytics/ranking/ranking.ts';
import { RedisRanking } from '../../services/analytics/ranking/redis-ranking.ts';
import { REDIS_URL, uniqueName } from '../support/env.ts';
import { testLog } from '../support/logger.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const HORIZON = 15 * MINUTE;
/** A fixed start, so bucket boundaries fall where the stories expect: 12:00:30 UTC. */
const START = Date.UTC(2026, 10, 30, 12, 0, 30);

interface Adapter {
  name: 'memory' | 'redis' | 'redis cluster';
  open(now: () => number): Ranking;
}

let redis: RedisClient | undefined;
let cluster: RedisClient | undefined;
const ADAPTERS: Adapter[] = [
  { name: 'memory', open: (now) => new MemoryRanking({ dedupHorizonMs: HORIZON, now }) },
  {
    name: 'redis',
    open: (now) => {
      if (!redis) throw new Error('redis is not connected');
      return new RedisRanking(redis, `${uniqueName('ranking')}:`, { dedupHorizonMs: HORIZON, now });
    },
  },
  {
    name: 'redis cluster',
    open: (now) => {
      if (!cluster) throw new Error('the redis cluster is not connected');
      return new RedisRanking(cluster, `${uniqueName('ranking')}:`, {
        dedupHorizonMs: HORIZON,
        now,
      });
    },
  },
];

beforeAll(async () => {
  redis = createRedis({ url: REDIS_URL, log: testLog, name: 'ranking-test' });
  cluster = createRedis({
    url: inject('redisClusterUrl'),
    log: testLog,
    name: 'ranking-test',
    cluster: true,
  });
  await waitForRedis(redis, 3_000);
  await waitForRedis(cluster, 5_000);
});
afterAll(async () => {
  await redis?.quit();
  await cluster?.quit();
});

let nextEvent = 1_000;
function clicks(linkId: string, code: string, count: number, at: number): RankedClick[] {
  return Array.from({ length: count }, () => ({
    eventId: String(++nextEvent),
    linkId,
    code,
    at,
  }));
}

describe.each(ADAPTERS)('ranking contract ($name)', (adapter) => {
  let now = START;
  let ranking: Ranking;
  beforeEach(() => {
    now = START;
    ranking = adapter.open(() => now);
  });

  test('when links are clicked, then the top list ranks them by visits in every window', async () => {
    await ranking.record([
      ...clicks('11', 'aaa', 3, now),
      ...clicks('22', 'bbb', 5, now),
      ...clicks('33', 'ccc', 1, now),
    ]);
    for (const window of ['5m', '1h', '24h'] as const) {
      expect(await ranking.top(window, 10)).toEqual([
        { linkId: '22', code: 'bbb', visits: 5 },
        { linkId: '11', code: 'aaa', visits: 3 },
        { linkId: '33', code: 'ccc', visits: 1 },
      ]);
    }
    expect(await ranking.top('1h', 2)).toHaveLength(2);
  });

  test('when the same batch is recorded twice, then each click counts once', async () => {
    const batch = [...clicks('11', 'aaa', 4, now), ...clicks('22', 'bbb', 2, now)];
    expect(await ranking.record(batch)).toBe(6);
    now += 2 * MINUTE;
    expect(await ranking.record(batch)).toBe(0);
    expect(await ranking.record([...batch, ...clicks('22', 'bbb', 1, now)])).toBe(1);
    expect(
      await ranking.visitsOf('1h', [
        { linkId: '11', code: 'aaa' },
        { linkId: '22', code: 'bbb' },
      ]),
    ).toEqual([4, 3]);
    // The same click three times in one batch: once.
    const [again] = clicks('44', 'ddd', 1, now);
    if (!again) throw new Error('no click made');
    expect(await ranking.record([again, again, again])).toBe(1);
    expect(await ranking.visitsOf('5m', [{ linkId: '44', code: 'ddd' }])).toEqual([1]);
  });

  test('when time passes, then clicks leave the 5-minute window, then the hour, then the day', async () => {
    await ranking.record(clicks('11', 'aaa', 2, now));
    const link = [{ linkId: '11', code: 'aaa' }];
    now += 4 * MINUTE;
    expect(await ranking.visitsOf('5m', link)).toEqual([2]);
    now += 2 * MINUTE;
    expect(await ranking.visitsOf('5m', link)).toEqual([0]);
    expect(await ranking.top('5m', 10)).toEqual([]);
    expect(await ranking.visitsOf('1h', link)).toEqual([2]);
    now = START + HOUR + 5 * MINUTE;
    expect(await ranking.visitsOf('1h', link)).toEqual([0]);
    expect(await ranking.visitsOf('24h', link)).toEqual([2]);
    now = START + 25 * HOUR;
    expect(await ranking.visitsOf('24h', link)).toEqual([0]);
    expect(await ranking.top('24h', 10)).toEqual([]);
  });

  test('when a click arrives older than the dedup horizon, then it is not counted (it may be a redelivery)', async () => {
    expect(await ranking.record(clicks('11', 'aaa', 1, now - HORIZON - MINUTE))).toBe(0);
    expect(await ranking.record(clicks('11', 'aaa', 1, now - HORIZON + MINUTE))).toBe(1);
    expect(await ranking.visitsOf('1h', [{ linkId: '11', code: 'aaa' }])).toEqual([1]);
  });

  test('when links are scored by name, then every one is answered, unvisited ones with 0, whatever others do', async () => {
    await ranking.record([...clicks('99', 'hot', 50, now), ...clicks('11', 'aaa', 2, now)]);
    expect(
      await ranking.visitsOf('24h', [
        { linkId: '12', code: 'none' },
        { linkId: '11', code: 'aaa' },
      ]),
    ).toEqual([0, 2]);
    expect(await ranking.visitsOf('24h', [])).toEqual([]);
  });

  test('when nothing was clicked, then the top list is empty', async () => {
    expect(await ranking.top('5m', 10)).toEqual([]);
  });
});
