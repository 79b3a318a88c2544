import { describe, expect, test } from 'vitest';
import type { Broadcast } from '../../lib/broadcast/broadcast.ts';
import { FLAVOURS, sharedStateForSuite } from '../support/shared-state.ts';
import { sleep } from '../support/wait.ts';

const nextTurns = () => sleep(100);

/** Subscribes and resolves once the subscription is live, with what it has heard. */
async function listen(broadcast: Broadcast, channel: string) {
  const heard: string[] = [];
  const states: boolean[] = [];
  let live!: () => void;
  const isLive = new Promise<void>((resolve) => {
    live = resolve;
  });
  const stop = broadcast.subscribe(channel, {
    message: (payload) => heard.push(payload),
    live: (state) => {
      states.push(state);
      if (state) live();
    },
  });
  await isLive;
  return { heard, states, stop };
}

describe.each(FLAVOURS)('broadcast contract ($name)', (flavour) => {
  const state = sharedStateForSuite(flavour);

  test('when a subscription is made, then it reports live, and only then is delivery promised', async () => {
    const { states, stop } = await listen(state.broadcast, 'announce');
    expect(states).toEqual([true]);
    await stop();
  });

  test('when a message is published, then every live subscriber of that channel gets it once (in any order)', async () => {
    const first = await listen(state.broadcast, 'changes');
    const second = await listen(state.broadcast, 'changes');
    const other = await listen(state.broadcast, 'elsewhere');
    await state.broadcast.publish('changes', 'aB3');
    await state.broadcast.publish('changes', 'Xy9');
    await nextTurns();
    expect([...first.heard].sort()).toEqual(['Xy9', 'aB3']);
    expect([...second.heard].sort()).toEqual(['Xy9', 'aB3']);
    expect(other.heard).toEqual([]);
    for (const s of [first, second, other]) await s.stop();
  });

  test('when a subscriber unsubscribes, then it hears nothing more', async () => {
    const quiet = await listen(state.broadcast, 'quiet');
    await state.broadcast.publish('quiet', 'one');
    await nextTurns();
    await quiet.stop();
    await state.broadcast.publish('quiet', 'two');
    await nextTurns();
    expect(quiet.heard).toEqual(['one']);
  });

  test('a publisher is never called back inline', async () => {
    const inline = await listen(state.broadcast, 'inline');
    const publishing = state.broadcast.publish('inline', 'later');
    expect(inline.heard).toEqual([]);
    await publishing;
    await nextTurns();
    expect(inline.heard).toEqual(['later']);
    await inline.stop();
  });
});
