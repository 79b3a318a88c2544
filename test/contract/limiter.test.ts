import { describe, expect, test } from 'vitest';
import { FLAVOURS, sharedStateForSuite } from '../support/shared-state.ts';
import { sleep } from '../support/wait.ts';

describe.each(FLAVOURS)('rate limiter contract ($name)', (flavour) => {
  const state = sharedStateForSuite(flavour);

  test('with a limit of 50, exactly 50 of 200 concurrent requests are admitted', async () => {
    const rule = { limit: 50, windowMs: 3_600_000 };
    const decisions = await Promise.all(
      Array.from({ length: 200 }, () => state.limiter.consume('burst', rule, 'caller-1')),
    );
    const admitted = decisions.filter((d) => d.allowed);
    expect(admitted).toHaveLength(50);
    for (const refused of decisions.filter((d) => !d.allowed)) {
      expect(refused.allowed === false && refused.retryAfterMs).toBeGreaterThan(3_500_000);
    }
  });

  test('each key has its own budget, and rules with different names never share one', async () => {
    const rule = { limit: 1, windowMs: 60_000 };
    expect((await state.limiter.consume('per-ip', rule, 'k')).allowed).toBe(true);
    expect((await state.limiter.consume('per-ip', rule, 'k')).allowed).toBe(false);
    expect((await state.limiter.consume('per-ip', rule, 'other')).allowed).toBe(true);
    expect((await state.limiter.consume('per-caller', rule, 'k')).allowed).toBe(true);
  });

  test('when the window has passed, then the budget is back', async () => {
    const rule = { limit: 2, windowMs: 1_000 };
    await state.limiter.consume('window', rule, 'w');
    await state.limiter.consume('window', rule, 'w');
    const refused = await state.limiter.consume('window', rule, 'w');
    expect(refused.allowed).toBe(false);
    const wait = refused.allowed ? 0 : refused.retryAfterMs;
    expect(wait).toBeLessThanOrEqual(1_000);
    await sleep(wait + 50);
    expect((await state.limiter.consume('window', rule, 'w')).allowed).toBe(true);
  });

  test('a refunded unit can be spent again, and only that one', async () => {
    const rule = { limit: 2, windowMs: 60_000 };
    await state.limiter.consume('refund', rule, 'p');
    await state.limiter.consume('refund', rule, 'p');
    expect((await state.limiter.consume('refund', rule, 'p')).allowed).toBe(false);
    // The refused attempt spent a unit too: two refunds bring one back.
    await state.limiter.refund('refund', rule, 'p');
    await state.limiter.refund('refund', rule, 'p');
    expect((await state.limiter.consume('refund', rule, 'p')).allowed).toBe(true);
    const refused = await state.limiter.consume('refund', rule, 'p');
    expect(refused.allowed).toBe(false);
    expect(refused.allowed === false && refused.retryAfterMs).toBeGreaterThan(55_000);
    // Another key, and another rule name, are untouched.
    expect((await state.limiter.consume('refund', rule, 'q')).allowed).toBe(true);
    expect((await state.limiter.consume('other', rule, 'p')).allowed).toBe(true);
  });

  test('when a budget is reset, then all of it is back at once', async () => {
    const rule = { limit: 1, windowMs: 3_600_000 };
    await state.limiter.consume('reset', rule, 'r');
    expect((await state.limiter.consume('reset', rule, 'r')).allowed).toBe(false);
    await state.limiter.reset('reset', rule, 'r');
    expect((await state.limiter.consume('reset', rule, 'r')).allowed).toBe(true);
    expect((await state.limiter.consume('reset', rule, 'r')).allowed).toBe(false);
    // Resetting a key nobody spent is no error.
    await state.limiter.reset('reset', rule, 'never-spent');
    expect((await state.limiter.consume('reset', rule, 'never-spent')).allowed).toBe(true);
  });
});
