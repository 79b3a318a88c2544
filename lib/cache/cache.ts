/**
 * Port: a shared string cache with per-entry TTL (Redis, or in-process for the
 * embedded mesh). Calls made for a gRPC call give up when it runs out of time.
 */
export interface Cache {
  /**
   * Values in the order of `keys`; null where absent or expired. One round
   * trip, given up on when `signal` aborts (by default the running call's).
   */
  getMany(keys: readonly string[], signal?: AbortSignal): Promise<(string | null)[]>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  /** Sets the key only if it holds nothing; true if it was set. */
  add(key: string, value: string, ttlMs: number): Promise<boolean>;
  delete(keys: readonly string[]): Promise<void>;
}
