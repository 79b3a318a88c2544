// How long to wait before the next attempt, for every reconnect and retry
// loop: exponential from `initialMs`, capped at `maxMs`, and jittered downward
// so processes that lost the same dependency at the same moment do not all
// come back in step.

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  /** Share of each delay taken off at random (0 = none). */
  jitter: number;
}

/** Reconnecting to our own services and stores: quick first, at most every 2 s. */
export const RECONNECT: BackoffPolicy = { initialMs: 100, maxMs: 2_000, jitter: 0.2 };

/** Delay before attempt `attempt + 1`, where `attempt` counts the failures so far from 0. */
export function backoffDelay(attempt: number, policy: BackoffPolicy = RECONNECT): number {
  const exponential = policy.initialMs * 2 ** Math.min(Math.max(attempt, 0), 30);
  const capped = Math.min(exponential, policy.maxMs);
  return Math.round(capped * (1 - policy.jitter * Math.random()));
}
