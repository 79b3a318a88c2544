// How long to wait before the next attempt, for every reconnect and retry
// loop: exponential from `initialMs`, capped at `maxMs`, and jittered downward
// so processes that lost the same dependency at the same moment do not all
// come back in step. (The bus passes no jitter: its delays name its retry
// queues and must be the same on every instance.)

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  /** Growth per attempt; 2 unless given. */
  factor?: number;
  /** Share of each delay taken off at random, 0 to 1 (0 unless given). */
  jitter?: number;
}

/** Reconnecting to our own services and stores: quick first, at most every 2 s. */
export const RECONNECT: BackoffPolicy = { initialMs: 100, maxMs: 2_000, jitter: 0.2 };

/** Delay before attempt `attempt + 1`, where `attempt` counts the failures so far from 0. */
export function backoffDelay(
  attempt: number,
  policy: BackoffPolicy = RECONNECT,
  random = Math.random,
): number {
  const { initialMs, maxMs, factor = 2, jitter = 0 } = policy;
  const exponential = initialMs * factor ** Math.min(Math.max(attempt, 0), 30);
  const capped = Math.min(exponential, maxMs);
  return Math.round(capped * (1 - jitter * random()));
}

/** Waits `ms`, or less if `signal` aborts first (stopping should not wait out a backoff). */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
