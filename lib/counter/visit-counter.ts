// Visit budgets of links with a maximum number of visits: one atomic counter
// per link, shared by every link instance (a Lua script on Redis, a Map in
// process for the embedded mesh). Spending is one round trip and takes no
// lock: the counter counts every attempt, and the attempt that finds the
// limit already reached is refused, so exactly `limit` spends succeed however
// many race. A store failure, or no answer before the running call runs out
// of time, throws `unavailable`: a limited link fails closed.
import { runningCallSignal, unlessAborted } from '../call-scope.ts';
import { defineScript, deleteMany, type RedisClient, readMany } from '../redis/client.ts';
import { runtimeErrors } from '../runtime-errors.ts';

/** Port: where visit budgets are counted. */
export interface VisitCounter {
  /** Spends one visit of `key` under `limit`: the visits left after it (0 for the last), or -1 if none was left. */
  spend(key: string, limit: number): Promise<number>;
  /** Visits spent so far, per key (0 for a key never spent). */
  spent(keys: readonly string[]): Promise<number[]>;
  /** Forgets the counters (a purged link's). */
  delete(keys: readonly string[]): Promise<void>;
}

function withinCall<T>(work: Promise<T>): Promise<T> {
  const signal = runningCallSignal();
  return signal ? unlessAborted(work, signal) : work;
}

export class MemoryVisitCounter implements VisitCounter {
  readonly #spent = new Map<string, number>();

  async spend(key: string, limit: number): Promise<number> {
    const spent = (this.#spent.get(key) ?? 0) + 1;
    this.#spent.set(key, spent);
    return spent > limit ? -1 : limit - spent;
  }

  async spent(keys: readonly string[]): Promise<number[]> {
    return keys.map((key) => this.#spent.get(key) ?? 0);
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) this.#spent.delete(key);
  }
}

// INCR is atomic: the n-th caller sees n, whichever instance it is.
const SPEND = `
local spent = redis.call('INCR', KEYS[1])
local limit = tonumber(ARGV[1])
if spent > limit then return -1 end
return limit - spent
`;

export class RedisVisitCounter implements VisitCounter {
  readonly #redis: RedisClient;
  readonly #prefix: string;
  readonly #spend: (keys: string[], args: (string | number)[]) => Promise<unknown>;

  constructor(redis: RedisClient, keyPrefix: string) {
    this.#redis = redis;
    this.#prefix = `${keyPrefix}visits:`;
    this.#spend = defineScript(redis, 'linkSpendVisit', SPEND, 1);
  }

  async spend(key: string, limit: number): Promise<number> {
    try {
      return Number(await withinCall(this.#spend([this.#prefix + key], [limit])));
    } catch (error) {
      throw runtimeErrors.cache_unavailable({ cause: error });
    }
  }

  async spent(keys: readonly string[]): Promise<number[]> {
    if (keys.length === 0) return [];
    try {
      const values = await withinCall(
        readMany(
          this.#redis,
          keys.map((key) => this.#prefix + key),
        ),
      );
      return values.map((value) => (value === null ? 0 : Number(value)));
    } catch (error) {
      throw runtimeErrors.cache_unavailable({ cause: error });
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await deleteMany(
      this.#redis,
      keys.map((key) => this.#prefix + key),
    );
  }
}
