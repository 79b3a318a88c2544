// The visit counter's contract, on Redis and in process alike: exactly
// `limit` spends succeed however many race, with no lock.
import { describe, expect, test } from 'vitest';
import { FLAVOURS, sharedStateForSuite } from '../support/shared-state.ts';

describe.each(FLAVOURS)('visit counter contract ($name)', (flavour) => {
  const state = sharedStateForSuite(flavour);

  test('when visits are spent one by one, then each says how many are left, and the one past the limit is refused', async () => {
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await state.visits.spend('one-by-one', 3));
    expect(answers).toEqual([2, 1, 0, -1]);
    expect(await state.visits.spent(['one-by-one', 'never'])).toEqual([4, 0]);
  });

  test('when 200 spends race for a limit of 50, then exactly 50 succeed, each with a different number left', async () => {
    const answers = await Promise.all(
      Array.from({ length: 200 }, () => state.visits.spend('race', 50)),
    );
    const allowed = answers.filter((left) => left >= 0);
    expect(allowed).toHaveLength(50);
    expect(new Set(allowed).size).toBe(50);
    expect(answers.filter((left) => left === -1)).toHaveLength(150);
  });

  test('when a counter is deleted, then it starts again from nothing and others stay', async () => {
    await state.visits.spend('gone', 1);
    await state.visits.spend('kept', 5);
    await state.visits.delete(['gone']);
    expect(await state.visits.spent(['gone', 'kept'])).toEqual([0, 1]);
    expect(await state.visits.spend('gone', 1)).toBe(0);
  });
});
