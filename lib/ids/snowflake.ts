// Snowflake ids: 41 bits of milliseconds since EPOCH_MS, 10 bits of worker id,
// 12 bits of sequence; the sign bit stays 0 so an id fits a signed BIGINT.
// Ids are decimal strings everywhere outside this file: JavaScript numbers lose
// precision above 2^53 and ids pass that 25 days after the epoch.
//
// Uniqueness rests on two rules. Within a process, ids strictly increase: the
// generator keeps a logical clock that never goes back. It may run ahead of the
// wall clock (when the clock steps back, or when 4096 ids in one millisecond
// borrow the next one) but never by more than `maxDriftMs`; past that it refuses
// to issue until the wall clock catches up. Across processes, worker ids are
// leased (worker-lease.ts) so no two live generators share one.
import { runtimeErrors } from '../runtime-errors.ts';

export const EPOCH_MS = Date.UTC(2026, 0, 1);
export const MAX_WORKER_ID = 1023;
const SEQUENCE_BITS = 12n;
const WORKER_BITS = 10n;
const MAX_SEQUENCE = 4095;
const MAX_TIMESTAMP = 2 ** 41 - 1;

/** What the generator needs from its lease: a worker id and whether it is confirmed now. */
export interface WorkerIdSource {
  readonly workerId: number;
  isValid(): boolean;
}

export interface SnowflakeOptions {
  /** Wall clock in ms since the Unix epoch. */
  now?: () => number;
  /** How far the logical clock may run ahead of the wall clock. */
  maxDriftMs?: number;
}

export const DEFAULT_MAX_DRIFT_MS = 1_000;

export class SnowflakeGenerator {
  readonly #source: WorkerIdSource;
  readonly #now: () => number;
  readonly #maxDriftMs: number;
  #last = -1;
  #sequence = 0;

  constructor(source: WorkerIdSource, options: SnowflakeOptions = {}) {
    this.#source = source;
    this.#now = options.now ?? Date.now;
    this.#maxDriftMs = options.maxDriftMs ?? DEFAULT_MAX_DRIFT_MS;
  }

  /** The next id, as a decimal string. Throws `unavailable` when it cannot be unique. */
  /** Whether next() would issue now (the worker id's lease is confirmed). */
  get canIssue(): boolean {
    return this.#source.isValid();
  }

  next(): string {
    return this.nextBigInt().toString();
  }

  nextBigInt(): bigint {
    if (!this.#source.isValid()) {
      throw runtimeErrors.no_worker_lease();
    }
    const workerId = this.#source.workerId;
    let timestamp = this.#now() - EPOCH_MS;
    if (timestamp < this.#last) {
      const drift = this.#last - timestamp;
      if (drift > this.#maxDriftMs) {
        throw runtimeErrors.clock_behind({ driftMs: drift });
      }
      timestamp = this.#last;
    }
    if (timestamp === this.#last) {
      this.#sequence = (this.#sequence + 1) & MAX_SEQUENCE;
      if (this.#sequence === 0) timestamp += 1; // borrow the next millisecond
    } else {
      this.#sequence = 0;
    }
    if (timestamp < 0 || timestamp > MAX_TIMESTAMP) {
      throw runtimeErrors.clock_out_of_range();
    }
    this.#last = timestamp;
    return (
      (BigInt(timestamp) << (WORKER_BITS + SEQUENCE_BITS)) |
      (BigInt(workerId) << SEQUENCE_BITS) |
      BigInt(this.#sequence)
    );
  }
}

export interface DecodedSnowflake {
  timestampMs: number;
  workerId: number;
  sequence: number;
}

export function decodeSnowflake(id: string | bigint): DecodedSnowflake {
  const value = BigInt(id);
  return {
    timestampMs: Number(value >> (WORKER_BITS + SEQUENCE_BITS)) + EPOCH_MS,
    workerId: Number((value >> SEQUENCE_BITS) & BigInt(MAX_WORKER_ID)),
    sequence: Number(value & BigInt(MAX_SEQUENCE)),
  };
}

/** True for a decimal string that could be a Snowflake id (positive, fits 63 bits). */
export function isSnowflake(text: string): boolean {
  return /^[1-9]\d{0,18}$/.test(text) && BigInt(text) <= 9_223_372_036_854_775_807n;
}
