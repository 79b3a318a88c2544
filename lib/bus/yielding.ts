// Consumers of the bus yield the machine to busy gateways on it
// (docs/decisions/0014-consumers-yield.md). A gateway whose event loop is
// busy (its utilization over the last quarter second at or above
// GATEWAY_BUSY_UTILIZATION) says so on the broadcast, naming its node, four
// times a second while it stays busy. A consumer on the same node holds each
// batch back while it hears that, until a second has passed without it or
// the batch's oldest message has waited BUS_YIELD_MAX_LAG, whichever comes
// first. The messages wait in their durable queues meanwhile, as they would
// behind any slow consumer; past the lag bound a consumer runs as it would
// without yielding, so a gateway busy for longer than that shares the machine
// again and the consumers' lag stays bounded.
//
// Why not a lower CPU priority: on a machine whose cores the redirects keep
// busy, a consumer that runs at all, however low its priority, takes the
// cores' caches and the idle moments between requests, and the database work
// it sets off runs at the database's own priority. Holding back is what frees
// the machine; priority does not.
//
// Gateways on other nodes are not heard: a consumer on a machine of its own
// takes nothing from them. The broadcast is at most once: a consumer that is
// not subscribed (Redis away) hears nobody busy and works as usual.
import { performance } from 'node:perf_hooks';
import { pause } from '../backoff.ts';
import type { Broadcast } from '../broadcast/broadcast.ts';
import { type Logger, ThrottledLog } from '../log.ts';
import type { Delivery, Handler } from './bus.ts';

export const BUSY_CHANNEL = 'gateways-busy';

/** How often a gateway measures its event loop, and says so while busy. */
export const BUSY_SAMPLE_MS = 250;
/** How long a consumer takes a gateway for busy after last hearing so. */
export const BUSY_HOLD_MS = 1_000;

export interface BusyAnnouncerOptions {
  node: string;
  /** Utilization (0–1) of the event loop over a sample at which the gateway counts as busy. */
  threshold: number;
  log: Logger;
  /** The event loop's utilization since the last call (0–1); measured from perf_hooks unless given (tests). */
  utilization?: () => number;
  sampleMs?: number;
}

/** The event loop's utilization since the previous call, from perf_hooks. */
function loopUtilization(): () => number {
  let last = performance.eventLoopUtilization();
  return () => {
    const now = performance.eventLoopUtilization();
    const { utilization } = performance.eventLoopUtilization(now, last);
    last = now;
    return utilization;
  };
}

/** A gateway's side: says it is busy while it is. Returns the stop. */
export function announceWhileBusy(
  broadcast: Broadcast,
  options: BusyAnnouncerOptions,
): () => Promise<void> {
  const utilization = options.utilization ?? loopUtilization();
  const warnings = new ThrottledLog(options.log);
  const timer = setInterval(() => {
    if (utilization() < options.threshold) return;
    broadcast.publish(BUSY_CHANNEL, options.node).catch((error: unknown) => {
      warnings.warn(
        'busy',
        { err: error },
        'could not say the gateway is busy: consumers will not yield',
      );
    });
  }, options.sampleMs ?? BUSY_SAMPLE_MS);
  timer.unref();
  return async () => clearInterval(timer);
}

export interface YieldGateOptions {
  node: string;
  /** How long a batch is held back at most, counted from its oldest message's publish. */
  maxLagMs: number;
  holdMs?: number;
  now?: () => number;
}

/** A consumer's side: when a batch may run. One per process, shared by its consumers. */
export class YieldGate {
  readonly #node: string;
  readonly #maxLagMs: number;
  readonly #holdMs: number;
  readonly #now: () => number;
  readonly #unsubscribe: () => Promise<void>;
  #busyUntil = 0;

  constructor(broadcast: Broadcast, options: YieldGateOptions) {
    this.#node = options.node;
    this.#maxLagMs = options.maxLagMs;
    this.#holdMs = options.holdMs ?? BUSY_HOLD_MS;
    this.#now = options.now ?? Date.now;
    this.#unsubscribe = broadcast.subscribe(BUSY_CHANNEL, {
      message: (node) => {
        if (node === this.#node) this.#busyUntil = this.#now() + this.#holdMs;
      },
      // Whatever was heard before a gap may be over: nobody is busy until heard again.
      live: () => {
        this.#busyUntil = 0;
      },
    });
  }

  /** Whether a gateway on this node said it is busy within the hold. */
  get busy(): boolean {
    return this.#now() < this.#busyUntil;
  }

  /**
   * Resolves when work published at `oldestAt` (ms since the epoch) may run:
   * at once unless a gateway on this node is busy, else when it no longer is
   * or the work has waited the lag bound, or when `signal` aborts (stopping
   * drains). Resolves with the milliseconds it held the work back.
   */
  async turn(oldestAt: number | undefined, signal: AbortSignal): Promise<number> {
    const start = this.#now();
    // Work of unknown age could be held back without bound: it runs.
    if (oldestAt === undefined) return 0;
    for (;;) {
      const now = this.#now();
      const due = Math.min(this.#busyUntil, oldestAt + this.#maxLagMs);
      if (signal.aborted || now >= due) return now - start;
      await pause(due - now, signal);
    }
  }

  close(): Promise<void> {
    return this.#unsubscribe();
  }
}

/** The oldest publish time among deliveries; undefined if any has none. */
export function oldestPublish(deliveries: readonly Delivery[]): number | undefined {
  let oldest = Number.POSITIVE_INFINITY;
  for (const delivery of deliveries) {
    if (delivery.publishedAt === undefined) return undefined;
    if (delivery.publishedAt < oldest) oldest = delivery.publishedAt;
  }
  return Number.isFinite(oldest) ? oldest : undefined;
}

/**
 * A handler that waits its turn at `gate` before `handler` sees a batch;
 * `held` hears how long each batch was held back. Without a gate, `handler` itself.
 */
export function yielding(
  gate: YieldGate | undefined,
  handler: Handler,
  signal: AbortSignal,
  held?: (ms: number) => void,
): Handler {
  if (!gate) return handler;
  return async (deliveries) => {
    const ms = await gate.turn(oldestPublish(deliveries), signal);
    if (ms > 0) held?.(ms);
    return handler(deliveries);
  };
}
