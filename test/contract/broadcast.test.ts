import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { SharedState } from '../../lib/shared-state.ts';
import { FLAVOURS } from '../support/shared-state.ts';

const nextTurns = () => new Promise((resolve) => setTimeout(resolve, 100));

describe.each(FLAVOURS)('broadcast contract ($name)', (flavour) => {
  let state: SharedState;
  beforeAll(async () => {
    state = await flavour.open();
  });
  afterAll(() => state.close());

  test('when a message is published, then every subscriber of that channel gets it once', async () => {
    const first: string[] = [];
    const second: string[] = [];
    const other: string[] = [];
    const stops = await Promise.all([
      state.broadcast.subscribe('changes', { message: (m) => first.push(m), gap: () => {} }),
      state.broadcast.subscribe('changes', { message: (m) => second.push(m), gap: () => {} }),
      state.broadcast.subscribe('elsewhere', { message: (m) => other.push(m), gap: () => {} }),
    ]);
    await state.broadcast.publish('changes', 'aB3');
    await state.broadcast.publish('changes', 'Xy9');
    await nextTurns();
    expect(first).toEqual(['aB3', 'Xy9']);
    expect(second).toEqual(['aB3', 'Xy9']);
    expect(other).toEqual([]);
    for (const stop of stops) await stop();
  });

  test('when a subscriber unsubscribes, then it hears nothing more', async () => {
    const heard: string[] = [];
    const stop = await state.broadcast.subscribe('quiet', {
      message: (m) => heard.push(m),
      gap: () => {},
    });
    await state.broadcast.publish('quiet', 'one');
    await nextTurns();
    await stop();
    await state.broadcast.publish('quiet', 'two');
    await nextTurns();
    expect(heard).toEqual(['one']);
  });

  test('a publisher is never called back inline', async () => {
    const heard: string[] = [];
    const stop = await state.broadcast.subscribe('inline', {
      message: (m) => heard.push(m),
      gap: () => {},
    });
    const publishing = state.broadcast.publish('inline', 'later');
    expect(heard).toEqual([]);
    await publishing;
    await nextTurns();
    expect(heard).toEqual(['later']);
    await stop();
  });
});
