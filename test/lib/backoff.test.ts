import { expect, test } from 'vitest';
import { backoffDelay, RECONNECT } from '../../lib/backoff.ts';

test('when attempts keep failing, then delays double from the first one up to the cap, jittered only downward', () => {
  const policy = { initialMs: 100, maxMs: 2_000, jitter: 0.2 };
  for (let round = 0; round < 50; round++) {
    const delays = Array.from({ length: 10 }, (_, attempt) => backoffDelay(attempt, policy));
    delays.forEach((delay, attempt) => {
      const ceiling = Math.min(100 * 2 ** attempt, 2_000);
      expect(delay).toBeLessThanOrEqual(ceiling);
      expect(delay).toBeGreaterThanOrEqual(Math.floor(ceiling * 0.8));
    });
  }
  expect(backoffDelay(0, { ...policy, jitter: 0 })).toBe(100);
  expect(backoffDelay(1_000, RECONNECT)).toBeLessThanOrEqual(RECONNECT.maxMs);
});
