// The state services share beyond their own databases: cache, rate limits,
// worker-id leases and broadcast. With REDIS_URL set it lives in Redis; without,
// in this process, which is right only when every service runs in it (the
// embedded mesh started by `npm start`).

import { type AlertLedger, MemoryAlertLedger, RedisAlertLedger } from './alerts/ledger.ts';
import type { Broadcast } from './broadcast/broadcast.ts';
import { MemoryBroadcast } from './broadcast/memory-broadcast.ts';
import { RedisBroadcast } from './broadcast/redis-broadcast.ts';
import type { Cache } from './cache/cache.ts';
import { MemoryCache } from './cache/memory-cache.ts';
import { RedisCache } from './cache/redis-cache.ts';
import {
  MemoryVisitCounter,
  RedisVisitCounter,
  type VisitCounter,
} from './counter/visit-counter.ts';
import { MemoryLeaseStore } from './ids/lease-store-memory.ts';
import { RedisLeaseStore } from './ids/lease-store-redis.ts';
import type { LeaseStore } from './ids/worker-lease.ts';
import {
  MemoryRateLimiter,
  type OnRejected,
  type RateLimiter,
  RedisRateLimiter,
} from './limiter/limiter.ts';
import type { Logger } from './log.ts';
import type { Metrics } from './metrics/metrics.ts';
import { createRedis, waitForRedis } from './redis/client.ts';

export interface SharedState {
  readonly kind: 'redis' | 'memory';
  readonly cache: Cache;
  readonly limiter: RateLimiter;
  readonly leases: LeaseStore;
  readonly broadcast: Broadcast;
  /** Visit budgets of links with a maximum number of visits. */
  readonly visits: VisitCounter;
  /** Which alerts the notifier has posted, across its instances. */
  readonly alerts: AlertLedger;
  close(): Promise<void>;
}

function countRejections(metrics: Metrics | undefined): OnRejected | undefined {
  return metrics && ((limit) => metrics.rateLimitRejections.inc({ limit }));
}

export function memorySharedState(metrics?: Metrics): SharedState {
  return {
    kind: 'memory',
    cache: new MemoryCache(),
    limiter: new MemoryRateLimiter(countRejections(metrics)),
    leases: new MemoryLeaseStore(),
    broadcast: new MemoryBroadcast(),
    visits: new MemoryVisitCounter(),
    alerts: new MemoryAlertLedger(),
    close: async () => {},
  };
}

export async function redisSharedState(options: {
  url: string;
  keyPrefix: string;
  log: Logger;
  name: string;
  /** The URL names a node of a Redis Cluster. */
  cluster?: boolean;
  metrics?: Metrics;
}): Promise<SharedState> {
  const { url, keyPrefix, log, name, cluster = false, metrics } = options;
  const redis = createRedis({ url, log, name, cluster });
  const subscriber = createRedis({
    url,
    log,
    name: `${name}:subscriber`,
    subscriber: true,
    cluster,
  });
  // Start even if Redis is down: callers fall back or fail fast until it returns.
  if (!(await waitForRedis(redis, 3_000))) {
    log.warn({ redis: name }, 'redis not reachable at start-up; continuing without it');
  }
  const broadcast = new RedisBroadcast(redis, subscriber, keyPrefix, log);
  return {
    kind: 'redis',
    cache: new RedisCache(redis, keyPrefix),
    limiter: new RedisRateLimiter(redis, keyPrefix, countRejections(metrics)),
    leases: new RedisLeaseStore(redis, keyPrefix),
    broadcast,
    visits: new RedisVisitCounter(redis, keyPrefix),
    alerts: new RedisAlertLedger(redis, keyPrefix),
    async close() {
      await broadcast.close();
      subscriber.disconnect();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

export function openSharedState(options: {
  redisUrl: string;
  keyPrefix: string;
  log: Logger;
  name: string;
  cluster?: boolean;
  metrics?: Metrics;
}): Promise<SharedState> {
  if (!options.redisUrl) return Promise.resolve(memorySharedState(options.metrics));
  return redisSharedState({ url: options.redisUrl, ...options });
}
