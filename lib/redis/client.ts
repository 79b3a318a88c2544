// Redis connections that fail fast: with Redis down, a command errors at once
// (no offline queue; a command made for a gRPC call gives up with the call,
// any other after a short ceiling) so callers can fall back or answer 503
// instead of hanging; reconnection is automatic and quick.
//
// The same for a Redis Cluster (REDIS_CLUSTER): the URL names one node, the
// client finds the others and sends each command to the node of its key's
// slot. A command touching several keys must keep them in one slot there:
// the adapters put keys that scripts use together under one hash tag
// (`{…}`), and read or delete unrelated keys through readMany/deleteMany.
import { Cluster, Redis } from 'ioredis';
import { type BackoffPolicy, backoffDelay } from '../backoff.ts';
import type { Logger } from '../log.ts';

/** One server, or a cluster: the commands the adapters use are the same. */
export type RedisClient = Redis | Cluster;

export interface RedisOptions {
  url: string;
  log: Logger;
  /** Shows in CLIENT LIST, e.g. `link` or `link:subscriber`. */
  name: string;
  /** Subscriber connections may not send ordinary commands. */
  subscriber?: boolean;
  /** The URL names a node of a Redis Cluster. */
  cluster?: boolean;
}

/** Redis answers in well under a millisecond: one that takes this long is as good as gone. */
const COMMAND_CEILING_MS = 1_000;

/**
 * Redis restarts in well under a second here: come back quickly, retry at
 * least every second. No jitter: a process's command and subscriber
 * connections then come back together, so a subscription that is live again
 * can publish at once.
 */
const REDIS_RECONNECT: BackoffPolicy = { initialMs: 50, maxMs: 1_000, jitter: 0 };

export function createRedis({
  url,
  log,
  name,
  subscriber = false,
  cluster = false,
}: RedisOptions): RedisClient {
  const connection = {
    connectionName: name,
    maxRetriesPerRequest: subscriber ? null : 0,
    // Commands made for a gRPC call give up with it (lib/call-scope.ts); this
    // is only the ceiling for the rest (lease renewals, broadcasts) and for
    // calls with time to spare. Redis answers in well under a millisecond.
    commandTimeout: subscriber ? undefined : COMMAND_CEILING_MS,
    connectTimeout: 2_000,
  };
  // ioredis counts attempts from 1.
  const retry = (attempt: number) => backoffDelay(attempt - 1, REDIS_RECONNECT);
  const redis: RedisClient = cluster
    ? new Cluster([seedOf(url)], {
        redisOptions: { ...connection, ...credentialsOf(url) },
        enableOfflineQueue: subscriber,
        enableAutoPipelining: !subscriber,
        clusterRetryStrategy: retry,
        // A node that fails over answers for its slots again within seconds.
        retryDelayOnClusterDown: 200,
        retryDelayOnFailover: 100,
        slotsRefreshTimeout: 2_000,
      })
    : new Redis(url, {
        ...connection,
        enableOfflineQueue: subscriber,
        enableAutoPipelining: !subscriber,
        retryStrategy: retry,
      });
  let up = false;
  redis.on('ready', () => {
    up = true;
    log.info({ redis: name }, 'redis connected');
  });
  redis.on('error', (error: Error) => {
    if (up) log.warn({ redis: name, err: error }, 'redis error');
  });
  // 'reconnecting' (unlike 'close') never follows a deliberate quit().
  redis.on('reconnecting', () => {
    if (up) log.warn({ redis: name }, 'redis connection lost; reconnecting');
    up = false;
  });
  return redis;
}

/** The node a cluster client starts from: the URL's host and port. */
function seedOf(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname.replace(/^\[|\]$/g, ''), port: Number(parsed.port || 6379) };
}

/** What every node of a cluster is dialled with: the URL's user, password and TLS. */
function credentialsOf(url: string): { username?: string; password?: string; tls?: object } {
  const parsed = new URL(url);
  return {
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

/**
 * Values of many unrelated keys, in order: one MGET on a single server; on a
 * cluster one GET per key, sent to its slot's node (auto-pipelined, so one
 * round trip per node), since a cluster refuses MGET across slots.
 */
export function readMany(redis: RedisClient, keys: string[]): Promise<(string | null)[]> {
  if (keys.length === 0) return Promise.resolve([]);
  if (redis instanceof Cluster) return Promise.all(keys.map((key) => redis.get(key)));
  return redis.mget(keys);
}

/** Deletes many unrelated keys (one DEL on a single server, one per key on a cluster); how many existed. */
export async function deleteMany(redis: RedisClient, keys: string[]): Promise<number> {
  if (keys.length === 0) return 0;
  if (!(redis instanceof Cluster)) return redis.del(keys);
  const deleted = await Promise.all(keys.map((key) => redis.del(key)));
  return deleted.reduce((sum, n) => sum + n, 0);
}

/** Resolves when the connection is ready, or after timeoutMs; returns whether it is. */
export async function waitForRedis(redis: RedisClient, timeoutMs: number): Promise<boolean> {
  if (redis.status === 'ready') return true;
  return new Promise((resolve) => {
    const done = (ready: boolean) => {
      clearTimeout(timer);
      redis.off('ready', onReady);
      resolve(ready);
    };
    const onReady = () => done(true);
    const timer = setTimeout(() => done(false), timeoutMs);
    redis.on('ready', onReady);
  });
}

type ScriptArg = string | number;

/** A Lua script run by EVALSHA (loaded on first use); keys are prefixed by the caller. */
export function defineScript(
  redis: RedisClient,
  name: string,
  lua: string,
  numberOfKeys: number,
): (keys: string[], args: ScriptArg[]) => Promise<unknown> {
  redis.defineCommand(name, { lua, numberOfKeys });
  const command = (redis as unknown as Record<string, (...args: ScriptArg[]) => Promise<unknown>>)[
    name
  ];
  if (!command) throw new Error(`script ${name} was not defined`);
  return (keys, args) => command.call(redis, ...keys, ...args);
}
