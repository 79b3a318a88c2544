// The gateway's click buffer: redirects append, batches leave, and nothing is
// lost while the broker is away, short of the buffer's capacity (and what is
// dropped then is counted).
import { describe, expect, test } from 'vitest';
import { type Click, ClickBuffer, type PublishClicks } from '../../gateway/clicks/click-buffer.ts';
import { testLog } from '../support/logger.ts';
import { within } from '../support/wait.ts';

function click(n: number): Click {
  return {
    eventId: '',
    linkId: String(1_000 + (n % 7)),
    ownerId: '42',
    code: `code${n % 7}`,
    at: Date.now(),
    client: {
      ip: '198.51.100.7',
      userAgent: 'test',
      referer: '',
      acceptLanguage: 'en',
      traceparent: '',
      tracestate: '',
    },
  };
}

/** A broker stand-in: records every batch it confirmed, and fails while `down`. */
function broker() {
  const batches: string[][] = [];
  const attempts: string[][] = [];
  const state = { down: false };
  const publish: PublishClicks = async (clicks) => {
    attempts.push(clicks.map((c) => c.eventId));
    await new Promise((resolve) => setImmediate(resolve));
    if (state.down) throw new Error('broker unreachable');
    batches.push(clicks.map((c) => c.eventId));
  };
  return { batches, attempts, state, publish };
}

let nextId = 0;
const ids = () => String(++nextId);

describe('the click buffer', () => {
  test('when 1,200 clicks arrive at once, then they leave in batches of at most 500, each click once with its own event id', async () => {
    const bus = broker();
    const buffer = new ClickBuffer({ publish: bus.publish, nextEventId: ids, log: testLog });
    for (let i = 0; i < 1_200; i++) buffer.record(click(i));
    await within(5_000, () => buffer.counts.published === 1_200);
    expect(bus.batches.map((b) => b.length)).toEqual([500, 500, 200]);
    const all = bus.batches.flat();
    expect(new Set(all).size).toBe(1_200);
    expect(buffer.counts).toMatchObject({ buffered: 0, dropped: 0, publishFailures: 0 });
  });

  test('when fewer clicks than a batch arrive, then they are published after flushMs', async () => {
    const bus = broker();
    const buffer = new ClickBuffer({
      publish: bus.publish,
      nextEventId: ids,
      log: testLog,
      flushMs: 30,
    });
    buffer.record(click(1));
    buffer.record(click(2));
    expect(bus.batches).toEqual([]);
    await within(2_000, () => bus.batches.length === 1);
    expect(bus.batches[0]).toHaveLength(2);
  });

  test('when clicks pile up behind a slow broker, then a round publishes up to maxInFlight batches at once, each click once', async () => {
    const held: (() => void)[] = [];
    let inFlight = 0;
    let most = 0;
    const published: string[] = [];
    const publish: PublishClicks = async (clicks) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise<void>((resolve) => held.push(resolve));
      inFlight--;
      published.push(...clicks.map((c) => c.eventId));
    };
    const buffer = new ClickBuffer({ publish, nextEventId: ids, log: testLog, maxInFlight: 4 });
    for (let i = 0; i < 500; i++) buffer.record(click(i)); // the first batch leaves alone
    for (let i = 500; i < 3_000; i++) buffer.record(click(i)); // 2,500 wait behind it
    await within(5_000, () => {
      for (const resolve of held.splice(0)) resolve();
      return buffer.counts.published === 3_000;
    });
    expect(most).toBe(4);
    expect(new Set(published).size).toBe(3_000);
    expect(buffer.counts).toMatchObject({ buffered: 0, dropped: 0, publishFailures: 0 });
  });

  test('when some batches of a round fail, then only their clicks stay, in front, and go out again with the same event ids', async () => {
    let calls = 0;
    const confirmed: string[][] = [];
    const publish: PublishClicks = async (clicks) => {
      const call = ++calls;
      await new Promise((resolve) => setImmediate(resolve));
      // The third message of the first round (of four) is refused, once.
      if (call === 3) throw new Error('channel closed');
      confirmed.push(clicks.map((c) => c.eventId));
    };
    let issued = 0;
    const nextEventId = () => {
      issued++;
      return ids();
    };
    const buffer = new ClickBuffer({ publish, nextEventId, log: testLog, flushMs: 5 });
    for (let i = 0; i < 1_600; i++) buffer.record(click(i));
    await within(10_000, () => buffer.counts.published === 1_600);
    const all = confirmed.flat();
    expect(all).toHaveLength(1_600);
    expect(new Set(all).size).toBe(1_600);
    // The refused batch went out again under the ids it first had.
    expect(issued).toBe(1_600);
    expect(calls).toBe(5);
    expect(buffer.counts.publishFailures).toBe(1);
    expect(buffer.counts.dropped).toBe(0);
  });

  test('when the broker is down for a while, then clicks wait and go out after, with the event ids they first had', async () => {
    const bus = broker();
    bus.state.down = true;
    const buffer = new ClickBuffer({
      publish: bus.publish,
      nextEventId: ids,
      log: testLog,
      flushMs: 5,
    });
    for (let i = 0; i < 50; i++) buffer.record(click(i));
    await within(2_000, () => buffer.counts.publishFailures >= 3);
    expect(buffer.counts.published).toBe(0);
    expect(buffer.counts.buffered).toBe(50);
    const firstIds = bus.attempts[0];
    bus.state.down = false;
    await within(10_000, () => buffer.counts.published === 50);
    expect(bus.batches.flat()).toEqual(firstIds);
    expect(buffer.counts.dropped).toBe(0);
  });

  test('when the buffer is full while the broker is down, then further clicks are counted as dropped and the rest are published later', async () => {
    const bus = broker();
    bus.state.down = true;
    const buffer = new ClickBuffer({
      publish: bus.publish,
      nextEventId: ids,
      log: testLog,
      flushMs: 5,
      capacity: 100,
    });
    for (let i = 0; i < 130; i++) buffer.record(click(i));
    expect(buffer.counts.dropped).toBe(30);
    bus.state.down = false;
    await within(10_000, () => buffer.counts.published === 100);
    expect(new Set(bus.batches.flat()).size).toBe(100);
  });

  test('when no event id can be issued for a while (no worker lease), then the clicks wait and nothing is lost', async () => {
    const bus = broker();
    let leased = false;
    const buffer = new ClickBuffer({
      publish: bus.publish,
      nextEventId: () => {
        if (!leased) throw new Error('no worker lease');
        return ids();
      },
      log: testLog,
      flushMs: 5,
    });
    for (let i = 0; i < 10; i++) buffer.record(click(i));
    await within(2_000, () => buffer.counts.publishFailures >= 2);
    leased = true;
    await within(10_000, () => buffer.counts.published === 10);
    expect(new Set(bus.batches.flat()).size).toBe(10);
  });

  test('when the gateway stops with clicks buffered, then all of them are published before stop returns', async () => {
    const bus = broker();
    const buffer = new ClickBuffer({
      publish: bus.publish,
      nextEventId: ids,
      log: testLog,
      flushMs: 60_000,
    });
    for (let i = 0; i < 1_234; i++) buffer.record(click(i));
    await buffer.stop(5_000);
    expect(buffer.counts).toMatchObject({ published: 1_234, buffered: 0, dropped: 0 });
    expect(new Set(bus.batches.flat()).size).toBe(1_234);
  });

  test('when the broker stays down through a stop, then what could not be published is counted as dropped, and so is a click after it', async () => {
    const bus = broker();
    bus.state.down = true;
    const buffer = new ClickBuffer({
      publish: bus.publish,
      nextEventId: ids,
      log: testLog,
      flushMs: 60_000,
    });
    for (let i = 0; i < 20; i++) buffer.record(click(i));
    await buffer.stop(300);
    expect(buffer.counts).toMatchObject({ published: 0, buffered: 0, dropped: 20 });
    // Nothing publishes after a stop: a late click is counted at once.
    buffer.record(click(99));
    expect(buffer.counts.dropped).toBe(21);
  });
});
