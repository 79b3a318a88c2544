import { runningCallSignal, unlessAborted } from '../call-scope.ts';
import { deleteMany, type RedisClient, readMany } from '../redis/client.ts';
import type { Cache } from './cache.ts';

/** A command on the shared, pipelined connection, given up on with `signal` (nothing leaks). */
function within<T>(command: Promise<T>, signal = runningCallSignal()): Promise<T> {
  return signal ? unlessAborted(command, signal) : command;
}

export class RedisCache implements Cache {
  readonly #redis: RedisClient;
  readonly #prefix: string;

  constructor(redis: RedisClient, keyPrefix: string) {
    this.#redis = redis;
    this.#prefix = `${keyPrefix}cache:`;
  }

  async getMany(keys: readonly string[], signal?: AbortSignal): Promise<(string | null)[]> {
    if (keys.length === 0) return [];
    return within(
      readMany(
        this.#redis,
        keys.map((key) => this.#prefix + key),
      ),
      signal ?? runningCallSignal(),
    );
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await within(this.#redis.set(this.#prefix + key, value, 'PX', Math.max(1, Math.ceil(ttlMs))));
  }

  async add(key: string, value: string, ttlMs: number): Promise<boolean> {
    const ms = Math.max(1, Math.ceil(ttlMs));
    return (await within(this.#redis.set(this.#prefix + key, value, 'PX', ms, 'NX'))) === 'OK';
  }

  async delete(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await within(
      deleteMany(
        this.#redis,
        keys.map((key) => this.#prefix + key),
      ),
    );
  }
}
