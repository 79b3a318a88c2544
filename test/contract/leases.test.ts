import { describe, expect, test } from 'vitest';
import { FLAVOURS, sharedStateForSuite } from '../support/shared-state.ts';
import { sleep } from '../support/wait.ts';

const MAX_ID = 1023;

describe.each(FLAVOURS)('worker-id lease store contract ($name)', (flavour) => {
  const state = sharedStateForSuite(flavour);

  test('when many owners claim at once, then each gets a different id', async () => {
    const claims = await Promise.all(
      Array.from({ length: 100 }, (_, i) => state.leases.claim(`owner-${i}`, 60_000, MAX_ID)),
    );
    const ids = claims.map((c) => c.workerId);
    expect(new Set(ids).size).toBe(100);
    for (const id of ids) expect(id).toBeGreaterThanOrEqual(0);
    for (const id of ids) expect(id).toBeLessThanOrEqual(MAX_ID);
  });

  test('when every id is held, then a claim fails instead of sharing one', async () => {
    const fresh = await flavour.open();
    try {
      await Promise.all(
        Array.from({ length: MAX_ID + 1 }, (_, i) =>
          fresh.leases.claim(`full-${i}`, 60_000, MAX_ID),
        ),
      );
      await expect(fresh.leases.claim('one-too-many', 60_000, MAX_ID)).rejects.toThrow(/leased/);
    } finally {
      await fresh.close();
    }
  });

  test('the holder renews; anyone else is told the lease is lost', async () => {
    const { workerId } = await state.leases.claim('holder', 60_000, MAX_ID);
    expect(await state.leases.renew(workerId, 'holder', 60_000)).toEqual({ kind: 'renewed' });
    expect(await state.leases.renew(workerId, 'intruder', 60_000)).toEqual({ kind: 'lost' });
  });

  test('when a lease expires unrenewed, then its holder gets it back only as a reclaim', async () => {
    const { workerId } = await state.leases.claim('sleepy', 100, MAX_ID);
    await sleep(200);
    const outcome = await state.leases.renew(workerId, 'sleepy', 60_000);
    expect(outcome.kind).toBe('reclaimed');
  });

  test('a released id stays reserved while the holder’s ids may lead the clock, then is free', async () => {
    const fresh = await flavour.open();
    try {
      const taken = await Promise.all(
        Array.from({ length: MAX_ID + 1 }, (_, i) => fresh.leases.claim(`r-${i}`, 60_000, MAX_ID)),
      );
      const released = taken[0];
      if (!released) throw new Error('no claim');
      await fresh.leases.release(released.workerId, 'r-0', 150);
      await expect(fresh.leases.claim('next', 60_000, MAX_ID)).rejects.toThrow(/leased/);
      await sleep(250);
      const next = await fresh.leases.claim('next', 60_000, MAX_ID);
      expect(next.workerId).toBe(released.workerId);
    } finally {
      await fresh.close();
    }
  });
});
