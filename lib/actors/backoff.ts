// Exponential backoff, written once for the actor runtime's restarts and the
// bus's retry delays (lib had none before). Jitter spreads restarts of many
// instances that failed together; the bus passes none, because its delays
// name its retry queues and must be the same on every instance.

export interface Backoff {
  /** Delay before the first retry. */
  initialMs: number;
  /** No delay grows past this. */
  maxMs: number;
  /** Growth per attempt; 2 unless given. */
  factor?: number;
  /** 0 to 1: the delay is drawn from [d × (1 − jitter), d]; 0 unless given. */
  jitter?: number;
}

/** The delay before retry number `retry` (1 for the first). */
export function backoffDelay(retry: number, backoff: Backoff, random = Math.random): number {
  const { initialMs, maxMs, factor = 2, jitter = 0 } = backoff;
  const delay = Math.min(maxMs, initialMs * factor ** Math.max(0, retry - 1));
  return Math.round(delay * (1 - jitter * random()));
}
