import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { DomainError } from '../../lib/errors.ts';
import {
  DEFAULT_MAX_DRIFT_MS,
  decodeSnowflake,
  EPOCH_MS,
  MAX_WORKER_ID,
  SnowflakeGenerator,
} from '../../lib/ids/snowflake.ts';

const worker = (workerId: number, valid = () => true) => ({ workerId, isValid: valid });

/** A clock the test moves by hand. */
function manualClock(start = EPOCH_MS + 86_400_000) {
  let now = start;
  return { now: () => now, set: (ms: number) => (now = ms), add: (ms: number) => (now += ms) };
}

describe('Snowflake generator', () => {
  test('ids strictly increase and never repeat, whatever the clock does within the drift bound', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: MAX_WORKER_ID }),
        // Each step: move the clock (back at most the drift bound, or forward), then issue some ids.
        fc.array(
          fc.record({
            move: fc.integer({ min: -DEFAULT_MAX_DRIFT_MS, max: 50 }),
            count: fc.integer({ min: 1, max: 3_000 }),
          }),
          { minLength: 1, maxLength: 30 },
        ),
        (workerId, steps) => {
          const clock = manualClock();
          const generator = new SnowflakeGenerator(worker(workerId), { now: clock.now });
          let previous = -1n;
          let highWater = clock.now();
          for (const { move, count } of steps) {
            // Never further behind the highest time the generator saw than it tolerates.
            clock.set(Math.max(clock.now() + move, highWater - DEFAULT_MAX_DRIFT_MS + 1));
            for (let i = 0; i < count; i++) {
              let id: bigint;
              try {
                id = generator.nextBigInt();
              } catch (error) {
                // Borrowing ahead may exhaust the drift bound; the refusal must say so.
                expect((error as DomainError).code).toBe('clock_behind');
                break;
              }
              const decoded = decodeSnowflake(id);
              if (id <= previous || decoded.workerId !== workerId) {
                throw new Error(`id ${id} after ${previous} (worker ${decoded.workerId})`);
              }
              previous = id;
              highWater = Math.max(highWater, decoded.timestampMs);
            }
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  test('when the clock steps back further than the drift bound, then it refuses until the clock catches up', () => {
    const clock = manualClock();
    const generator = new SnowflakeGenerator(worker(7), { now: clock.now });
    const before = generator.nextBigInt();
    clock.add(-(DEFAULT_MAX_DRIFT_MS + 500));
    expect(() => generator.next()).toThrowError(DomainError);
    try {
      generator.next();
    } catch (error) {
      expect((error as DomainError).kind).toBe('unavailable');
      expect((error as DomainError).code).toBe('clock_behind');
    }
    clock.add(DEFAULT_MAX_DRIFT_MS + 500);
    expect(generator.nextBigInt()).toBeGreaterThan(before);
  });

  test('when 4096 ids are taken in one millisecond, then the next one borrows the following millisecond', () => {
    const clock = manualClock();
    const generator = new SnowflakeGenerator(worker(1), { now: clock.now });
    const ids = Array.from({ length: 4096 * 3 }, () => generator.nextBigInt());
    expect(new Set(ids).size).toBe(ids.length);
    const first = decodeSnowflake(ids[0] as bigint);
    const last = decodeSnowflake(ids.at(-1) as bigint);
    expect(first.timestampMs).toBe(clock.now());
    expect(last.timestampMs).toBe(clock.now() + 2);
    expect(last.sequence).toBe(4095);
  });

  test('when the lease is not confirmed, then no id is issued', () => {
    let valid = true;
    const generator = new SnowflakeGenerator(worker(3, () => valid));
    expect(generator.next()).toMatch(/^\d+$/);
    valid = false;
    expect(() => generator.next()).toThrowError(/no confirmed worker lease/);
  });

  test('worker ids 0 and 1023 are distinct and decode exactly', () => {
    const clock = manualClock();
    const zero = new SnowflakeGenerator(worker(0), { now: clock.now }).nextBigInt();
    const top = new SnowflakeGenerator(worker(MAX_WORKER_ID), { now: clock.now }).nextBigInt();
    expect(zero).not.toBe(top);
    expect(decodeSnowflake(zero)).toEqual({ timestampMs: clock.now(), workerId: 0, sequence: 0 });
    expect(decodeSnowflake(top)).toEqual({
      timestampMs: clock.now(),
      workerId: MAX_WORKER_ID,
      sequence: 0,
    });
  });

  test('ids are above 2^53 within weeks of the epoch and survive JSON as strings', () => {
    const clock = manualClock(EPOCH_MS + 400 * 86_400_000);
    const id = new SnowflakeGenerator(worker(MAX_WORKER_ID), { now: clock.now }).next();
    expect(BigInt(id)).toBeGreaterThan(BigInt(Number.MAX_SAFE_INTEGER));
    expect(BigInt(id)).toBeLessThan(2n ** 63n);
    expect(JSON.parse(JSON.stringify({ id })).id).toBe(id);
  });
});
