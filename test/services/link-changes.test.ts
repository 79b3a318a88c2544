// Which codes changed reaches every link instance's watchers (the gateways'
// near caches). A purged chunk is one announcement: every code is heard, by
// this instance and by the others, in one message rather than one per code.
import { afterEach, describe, expect, test } from 'vitest';
import { type ChangeWatcher, LinkChanges } from '../../services/link/changes/link-changes.ts';
import { testLog } from '../support/logger.ts';
import { FLAVOURS, sharedStateForSuite } from '../support/shared-state.ts';
import { sleep, within } from '../support/wait.ts';

function recorder() {
  const heard: string[][] = [];
  let live = false;
  const watcher: ChangeWatcher = {
    changed: (codes) => void heard.push([...codes]),
    reset: () => {
      live = true;
    },
    pause: () => {
      live = false;
    },
    heartbeat: () => {},
    end: () => {},
  };
  return { heard, watcher, isLive: () => live };
}

describe.each(FLAVOURS)('link changes ($name)', (flavour) => {
  const state = sharedStateForSuite(flavour);
  const instances: LinkChanges[] = [];
  afterEach(async () => {
    for (const instance of instances.splice(0)) await instance.stop();
  });

  async function instance() {
    const changes = new LinkChanges(state.broadcast, testLog);
    instances.push(changes);
    changes.start();
    const heard = recorder();
    changes.watch(heard.watcher);
    await within(2_000, heard.isLive);
    return { changes, heard: heard.heard };
  }

  test('when a chunk of codes is announced at once, then every instance hears all of them in one message', async () => {
    const here = await instance();
    const there = await instance();
    const codes = Array.from({ length: 500 }, (_, i) => `c${i}`);
    await here.changes.announceAll(codes);
    await within(2_000, () => there.heard.length > 0);
    await sleep(100);
    expect(there.heard).toEqual([codes]);
    expect(here.heard[0]).toEqual(codes);
  });

  test('when one code is announced, then the other instance hears exactly that code', async () => {
    const here = await instance();
    const there = await instance();
    await here.changes.announce('aB3');
    await within(2_000, () => there.heard.length > 0);
    await sleep(100);
    expect(there.heard).toEqual([['aB3']]);
  });

  test('when nothing is announced at once, then nobody is told anything', async () => {
    const here = await instance();
    const there = await instance();
    await here.changes.announceAll([]);
    await sleep(200);
    expect(here.heard).toEqual([]);
    expect(there.heard).toEqual([]);
  });
});
