import { LRUCache } from 'lru-cache';
import type { Cache } from './cache.ts';

/** The embedded mesh's cache: bounded by entry count, least recently used goes first. */
export class MemoryCache implements Cache {
  readonly #entries: LRUCache<string, string>;

  constructor(maxEntries = 100_000) {
    this.#entries = new LRUCache({ max: maxEntries, ttlAutopurge: false });
  }

  async getMany(keys: readonly string[]): Promise<(string | null)[]> {
    return keys.map((key) => this.#entries.get(key) ?? null);
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    this.#entries.set(key, value, { ttl: ttlMs });
  }

  async add(key: string, value: string, ttlMs: number): Promise<boolean> {
    if (this.#entries.has(key)) return false;
    this.#entries.set(key, value, { ttl: ttlMs });
    return true;
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) this.#entries.delete(key);
  }
}
