// A worker id held under a lease that must be renewed. Rules (with the store):
// - the holder issues ids only while its last renewal was confirmed within
//   `validForMs` (less than the TTL, so it stops before the key can expire);
// - a new holder of an id that may have been in use waits until any previous
//   holder must have stopped (the store computes that wait).
// Redis keeps nothing on disk here: a restarted Redis forgets every lease, so
// the Redis store makes a claimant wait out the rest of a TTL after a restart.

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { backoffDelay } from '../backoff.ts';
import type { Logger } from '../log.ts';
import { DEFAULT_MAX_DRIFT_MS, MAX_WORKER_ID, type WorkerIdSource } from './snowflake.ts';

export type RenewOutcome =
  /** Still ours. */
  | { kind: 'renewed' }
  /** The lease had vanished (store restarted); it is ours again after waitMs. */
  | { kind: 'reclaimed'; waitMs: number }
  /** Someone else holds it now. */
  | { kind: 'lost' };

/** Port: where worker-id leases live (Redis, or in-process for the embedded mesh). */
export interface LeaseStore {
  /** Takes a free worker id in [0, maxId]; usable after waitMs. Throws if none is free. */
  claim(owner: string, ttlMs: number, maxId: number): Promise<{ workerId: number; waitMs: number }>;
  renew(workerId: number, owner: string, ttlMs: number): Promise<RenewOutcome>;
  /** Gives the id back, keeping it reserved for lingerMs so nobody reuses it while our ids may still lead the clock. */
  release(workerId: number, owner: string, lingerMs: number): Promise<void>;
}

export interface WorkerLeaseOptions {
  ttlMs: number;
  log: Logger;
  /** How far a generator may run ahead of the wall clock; see snowflake.ts. */
  maxDriftMs?: number;
  /** Told when the lease was found taken by another holder (metrics, alerts). */
  onLost?: (workerId: number) => void;
  /** Told when a worker id was claimed (at start, and after a loss). */
  onClaimed?: (workerId: number) => void;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class WorkerLease implements WorkerIdSource {
  readonly #store: LeaseStore;
  readonly #owner = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  readonly #ttlMs: number;
  readonly #validForMs: number;
  readonly #lingerMs: number;
  readonly #log: Logger;
  readonly #onLost: ((workerId: number) => void) | undefined;
  readonly #onClaimed: ((workerId: number) => void) | undefined;
  #workerId = -1;
  #validFrom = Number.POSITIVE_INFINITY;
  #validUntil = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #failures = 0;

  private constructor(store: LeaseStore, options: WorkerLeaseOptions) {
    this.#store = store;
    this.#ttlMs = options.ttlMs;
    const drift = options.maxDriftMs ?? DEFAULT_MAX_DRIFT_MS;
    // Stop issuing 2 × drift before the key can expire: our ids may lead the
    // wall clock by one drift, and the next holder's clock may lag ours by another.
    this.#validForMs = Math.max(options.ttlMs - 2 * drift, options.ttlMs / 2);
    this.#lingerMs = 2 * drift;
    this.#log = options.log;
    this.#onLost = options.onLost;
    this.#onClaimed = options.onClaimed;
  }

  /**
   * Starts claiming a worker id in the background (retrying while the store is
   * unreachable). The lease is usable once `ready` resolves; until then, and
   * whenever renewal lapses, isValid() is false and generators refuse to issue.
   */
  static start(store: LeaseStore, options: WorkerLeaseOptions): WorkerLease {
    const lease = new WorkerLease(store, options);
    lease.ready = lease.#firstClaim();
    return lease;
  }

  /** Resolves when the first claimed id may be used. */
  ready: Promise<void> = Promise.resolve();

  async #firstClaim(): Promise<void> {
    for (let attempt = 0; !this.#closed; attempt++) {
      try {
        const waitMs = await this.#claim();
        this.#schedule(this.#ttlMs / 3);
        // Renewals keep the key alive meanwhile; validity starts after the wait.
        if (waitMs > 0) await sleep(waitMs);
        return;
      } catch (error) {
        if (attempt === 0) this.#log.warn({ err: error }, 'cannot lease a worker id yet; retrying');
        await sleep(backoffDelay(attempt));
      }
    }
  }

  get workerId(): number {
    return this.#workerId;
  }

  isValid(): boolean {
    const now = performance.now();
    return now >= this.#validFrom && now < this.#validUntil;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#validUntil = Number.NEGATIVE_INFINITY;
    if (this.#workerId < 0) return;
    await this.#store
      .release(this.#workerId, this.#owner, this.#lingerMs)
      .catch((error: unknown) => {
        this.#log.warn({ err: error, workerId: this.#workerId }, 'could not release worker id');
      });
  }

  /** Claims an id; returns how long until it may be used. */
  async #claim(): Promise<number> {
    const sentAt = performance.now();
    const { workerId, waitMs } = await this.#store.claim(this.#owner, this.#ttlMs, MAX_WORKER_ID);
    this.#workerId = workerId;
    this.#validFrom = sentAt + waitMs;
    this.#validUntil = sentAt + this.#validForMs;
    this.#log.info({ workerId, waitMs }, 'worker id leased');
    this.#onClaimed?.(workerId);
    return waitMs;
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => void this.#renew(), delayMs);
    this.#timer.unref();
  }

  async #renew(): Promise<void> {
    const sentAt = performance.now();
    try {
      const outcome = await this.#store.renew(this.#workerId, this.#owner, this.#ttlMs);
      if (this.#closed) return;
      if (outcome.kind === 'renewed') {
        this.#validUntil = sentAt + this.#validForMs;
      } else if (outcome.kind === 'reclaimed') {
        // Confirmed without a gap up to now: nobody else can have issued with
        // it. After a gap, wait like any new holder.
        if (!this.isValid()) this.#validFrom = sentAt + outcome.waitMs;
        this.#validUntil = sentAt + this.#validForMs;
        this.#log.warn(
          { workerId: this.#workerId, waitMs: outcome.waitMs },
          'worker id lease re-established',
        );
      } else {
        this.#validUntil = Number.NEGATIVE_INFINITY;
        this.#log.error({ workerId: this.#workerId }, 'worker id lease lost; claiming another');
        this.#onLost?.(this.#workerId);
        await this.#claim();
      }
      this.#schedule(this.#ttlMs / 3);
    } catch (error) {
      if (this.#failures++ === 0) {
        this.#log.warn(
          {
            workerId: this.#workerId,
            cause: error instanceof Error ? error.message : String(error),
          },
          'worker id lease renewal failed; retrying',
        );
      }
      this.#schedule(Math.min(500, this.#ttlMs / 10));
      return;
    }
    if (this.#failures > 0)
      this.#log.info({ workerId: this.#workerId }, 'worker id lease renewal works again');
    this.#failures = 0;
  }
}
