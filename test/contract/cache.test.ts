import { describe, expect, test } from 'vitest';
import { FLAVOURS, sharedStateForSuite } from '../support/shared-state.ts';
import { sleep } from '../support/wait.ts';

describe.each(FLAVOURS)('cache contract ($name)', (flavour) => {
  const state = sharedStateForSuite(flavour);

  test('when values are set, then getMany returns them in key order with null for misses', async () => {
    await state.cache.set('a', 'alpha', 60_000);
    await state.cache.set('b', 'beta', 60_000);
    expect(await state.cache.getMany(['b', 'missing', 'a'])).toEqual(['beta', null, 'alpha']);
  });

  test('when an entry outlives its TTL, then it is gone', async () => {
    await state.cache.set('short', 'lived', 50);
    expect(await state.cache.getMany(['short'])).toEqual(['lived']);
    await sleep(120);
    expect(await state.cache.getMany(['short'])).toEqual([null]);
  });

  test('when keys are deleted, then they miss and others stay', async () => {
    await state.cache.set('x', '1', 60_000);
    await state.cache.set('y', '2', 60_000);
    await state.cache.delete(['x', 'never-set']);
    expect(await state.cache.getMany(['x', 'y'])).toEqual([null, '2']);
  });

  test('add sets only an absent key, and reports whether it did', async () => {
    expect(await state.cache.add('fresh', 'first', 60_000)).toBe(true);
    expect(await state.cache.add('fresh', 'second', 60_000)).toBe(false);
    expect(await state.cache.getMany(['fresh'])).toEqual(['first']);
    await state.cache.set('fresh', 'overwritten', 60_000);
    expect(await state.cache.getMany(['fresh'])).toEqual(['overwritten']);
  });

  test('keys are case-sensitive', async () => {
    await state.cache.set('aB3', 'lower-a', 60_000);
    await state.cache.set('Ab3', 'upper-a', 60_000);
    expect(await state.cache.getMany(['aB3', 'Ab3'])).toEqual(['lower-a', 'upper-a']);
  });

  test('an empty getMany answers without a round trip', async () => {
    expect(await state.cache.getMany([])).toEqual([]);
  });
});
