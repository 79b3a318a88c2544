// Rate limits: a fixed window of `limit` units per `windowMs` per key, counted
// atomically in one round trip (rate-limiter-flexible: a Lua script on Redis,
// a Map in process). A store failure, or no answer before the running call
// runs out of time, throws `unavailable`: limits fail closed.

import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { runningCallSignal, unlessAborted } from '../call-scope.ts';
import type { RateRule } from '../config/parsers.ts';
import type { RedisClient } from '../redis/client.ts';
import { runtimeErrors } from '../runtime-errors.ts';

export type LimitDecision = { allowed: true } | { allowed: false; retryAfterMs: number };

/** Port: where counters live. */
export interface RateLimiter {
  /** Spends one unit of `key`'s budget under `rule`, named `name` (rules with different names never share counters). */
  consume(name: string, rule: RateRule, key: string): Promise<LimitDecision>;
  /** Gives back one unit `consume` spent (an attempt that turned out not to count: a login that succeeded). */
  refund(name: string, rule: RateRule, key: string): Promise<void>;
  /** Gives `key` its whole budget back (a login that succeeded forgets the failures). */
  reset(name: string, rule: RateRule, key: string): Promise<void>;
}

type Backend = RateLimiterMemory | RateLimiterRedis;

/** Told of every refusal, by limit name (the metrics count them). */
export type OnRejected = (name: string) => void;

abstract class FlexibleLimiter implements RateLimiter {
  readonly #backends = new Map<string, Backend>();
  readonly #onRejected: OnRejected | undefined;

  constructor(onRejected?: OnRejected) {
    this.#onRejected = onRejected;
  }

  protected abstract create(name: string, rule: RateRule): Backend;

  #backend(name: string, rule: RateRule): Backend {
    const id = `${name}:${rule.limit}/${rule.windowMs}`;
    let backend = this.#backends.get(id);
    if (!backend) {
      backend = this.create(id, rule);
      this.#backends.set(id, backend);
    }
    return backend;
  }

  async consume(name: string, rule: RateRule, key: string): Promise<LimitDecision> {
    const backend = this.#backend(name, rule);
    try {
      await withinCall(backend.consume(key));
      return { allowed: true };
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) {
        this.#onRejected?.(name);
        return { allowed: false, retryAfterMs: Math.max(1, rejection.msBeforeNext) };
      }
      throw runtimeErrors.limiter_unavailable({ cause: rejection });
    }
  }

  async refund(name: string, rule: RateRule, key: string): Promise<void> {
    try {
      await withinCall(this.#backend(name, rule).reward(key, 1));
    } catch (error) {
      throw runtimeErrors.limiter_unavailable({ cause: error });
    }
  }

  async reset(name: string, rule: RateRule, key: string): Promise<void> {
    try {
      await withinCall(this.#backend(name, rule).delete(key));
    } catch (error) {
      throw runtimeErrors.limiter_unavailable({ cause: error });
    }
  }
}

/** Given up on when the running call runs out of time. */
function withinCall<T>(work: Promise<T>): Promise<T> {
  const signal = runningCallSignal();
  return signal ? unlessAborted(work, signal) : work;
}

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1_000));

export class MemoryRateLimiter extends FlexibleLimiter {
  protected create(name: string, rule: RateRule): Backend {
    return new RateLimiterMemory({
      keyPrefix: name,
      points: rule.limit,
      duration: seconds(rule.windowMs),
    });
  }
}

export class RedisRateLimiter extends FlexibleLimiter {
  readonly #redis: RedisClient;
  readonly #prefix: string;

  constructor(redis: RedisClient, keyPrefix: string, onRejected?: OnRejected) {
    super(onRejected);
    this.#redis = redis;
    this.#prefix = `${keyPrefix}limit:`;
    // Each backend (made on a rule's first use) defines the library's script
    // on the client. ioredis's auto-pipelining gathers a tick's commands in a
    // pipeline that knows only the scripts defined before it was made, so a
    // first use in a busy tick would fail; defining it once now avoids that.
    this.create('warm-up', { limit: 1, windowMs: 1_000 });
  }

  protected create(name: string, rule: RateRule): Backend {
    return new RateLimiterRedis({
      storeClient: this.#redis,
      keyPrefix: this.#prefix + name,
      points: rule.limit,
      duration: seconds(rule.windowMs),
      rejectIfRedisNotReady: true,
    });
  }
}
