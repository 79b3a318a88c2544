// The Redis broadcast when Redis is not there: subscribing never waits for it,
// a subscription is not live while it is gone, and live again (with delivery)
// once it is back.
import { expect, test } from 'vitest';
import { redisSharedState } from '../../lib/shared-state.ts';
import { testLog } from '../support/logger.ts';
import { OwnRedis } from '../support/redis-server.ts';
import { sleep, within } from '../support/wait.ts';

test('when Redis is down at subscribe time, dies later and comes back, then liveness follows it and delivery resumes', async () => {
  const redis = await OwnRedis.start();
  await redis.kill();
  const state = await redisSharedState({
    url: redis.url,
    keyPrefix: 'bcast:',
    log: testLog,
    name: 'test',
  });
  try {
    const states: boolean[] = [];
    const heard: string[] = [];
    // Returns at once although Redis is down.
    const stop = state.broadcast.subscribe('changes', {
      message: (payload) => heard.push(payload),
      live: (live) => states.push(live),
    });
    await sleep(300);
    expect(states).toEqual([]);

    await redis.start();
    await within(10_000, () => states.at(-1) === true);
    await state.broadcast.publish('changes', 'first');
    await within(5_000, () => heard.includes('first'));

    await redis.kill();
    await within(5_000, () => states.at(-1) === false);

    await redis.start();
    await within(10_000, () => states.at(-1) === true);
    await within(10_000, () => {
      void state.broadcast.publish('changes', 'second').catch(() => {});
      return heard.includes('second');
    });
    expect(states).toEqual([true, false, true]);
    await stop();
  } finally {
    await state.close();
    await redis.kill();
  }
}, 60_000);
