// Redis connections that fail fast: with Redis down, a command errors at once
// (no offline queue; a command made for a gRPC call gives up with the call,
// any other after a short ceiling) so callers can fall back or answer 503
// instead of hanging; reconnection is automatic and quick.
import { Redis } from 'ioredis';
import { type BackoffPolicy, backoffDelay } from '../backoff.ts';
import type { Logger } from '../log.ts';

export type { Redis };

export interface RedisOptions {
  url: string;
  log: Logger;
  /** Shows in CLIENT LIST, e.g. `link` or `link:subscriber`. */
  name: string;
  /** Subscriber connections may not send ordinary commands. */
  subscriber?: boolean;
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

export function createRedis({ url, log, name, subscriber = false }: RedisOptions): Redis {
  const redis = new Redis(url, {
    connectionName: name,
    enableOfflineQueue: subscriber,
    enableAutoPipelining: !subscriber,
    maxRetriesPerRequest: subscriber ? null : 0,
    // Commands made for a gRPC call give up with it (lib/call-scope.ts); this
    // is only the ceiling for the rest (lease renewals, broadcasts) and for
    // calls with time to spare. Redis answers in well under a millisecond.
    commandTimeout: subscriber ? undefined : COMMAND_CEILING_MS,
    connectTimeout: 2_000,
    // ioredis counts attempts from 1.
    retryStrategy: (attempt) => backoffDelay(attempt - 1, REDIS_RECONNECT),
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

/** Resolves when the connection is ready, or after timeoutMs; returns whether it is. */
export async function waitForRedis(redis: Redis, timeoutMs: number): Promise<boolean> {
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
  redis: Redis,
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
