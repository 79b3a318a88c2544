// The last-access toucher as the link service runs it: an actor on its
// link.clicked queue writing through the real store, on the in-process bus
// with SQLite and on RabbitMQ with MariaDB. Clicks move last access; a hot
// link is written once per interval however many clicks it gets; a message
// delivered again changes nothing; a message that does not decode is parked
// after the bounded retries while the others flow.
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { type LinkClicked, LinkClickedBatch } from '../../gen/shortener/v1/events.ts';
import { Supervisor } from '../../lib/actors/supervisor.ts';
import type { Bus } from '../../lib/bus/bus.ts';
import { CONSUMERS, EVENTS } from '../../lib/bus/catalog.ts';
import type { BusConfig } from '../../lib/bus/config.ts';
import { openBus, topologyOf } from '../../lib/bus/open.ts';
import type { Dialect } from '../../lib/db/migrations.ts';
import { ShutdownStack } from '../../lib/shutdown.ts';
import { LinkRow } from '../../services/link/store/entities.ts';
import { type LastAccess, LinkStore } from '../../services/link/store/link-store.ts';
import { linkSchema } from '../../services/link/store/schema.ts';
import {
  LastAccessToucher,
  type LastAccessWriter,
  startLastAccessToucher,
} from '../../services/link/workers/last-access-toucher.ts';
import { removeTopology, TEST_RETRY } from '../support/bus.ts';
import { openTestDatabase, type TestDatabase } from '../support/databases.ts';
import { RABBITMQ_URL, uniqueName } from '../support/env.ts';
import { aLink, freshLinkId, storeLink } from '../support/links.ts';
import { testLog } from '../support/logger.ts';
import { sleep, within } from '../support/wait.ts';

const FLAVOURS: { bus: 'memory' | 'rabbitmq'; dialect: Dialect }[] = [
  { bus: 'memory', dialect: 'sqlite' },
  { bus: 'rabbitmq', dialect: 'mysql' },
];

const MINUTE = 60_000;
/** Click times well in the past, so the toucher's clock never clamps them. */
const T0 = Date.now() - 60 * MINUTE;
const at = (offsetMs: number) => new Date(T0 + offsetMs);

let codes = 0;
const nextCode = () => `tc${(codes++).toString(36).padStart(5, '0')}`;

let nextEventId = 8_000_000_000_000_000_000n;

/** A bus message of clicks, as the gateway publishes it. */
function clickBatch(clicks: { linkId: string; at: Date | undefined }[]): Uint8Array {
  return LinkClickedBatch.encode({
    clicks: clicks.map(
      ({ linkId, at }): LinkClicked => ({
        eventId: String(nextEventId++),
        linkId,
        code: 'any',
        ownerId: '100000000000000001',
        clickedAt: at,
        client: undefined,
      }),
    ),
  }).finish();
}

describe.each(FLAVOURS)(
  'the last-access toucher ($bus bus, $dialect)',
  ({ bus: kind, dialect }) => {
    let db: TestDatabase;
    let store: LinkStore;
    let stack: ShutdownStack;
    let bus: Bus;
    let busConfig: BusConfig;
    /** Every write the toucher asked of the store, in order. */
    let writes: LastAccess[][];
    /** Set to make the next write fail after it committed, as if the connection dropped before the ack. */
    let loseNextAck: boolean;
    /** While set, writes wait for it before they start. */
    let holdWrites: Promise<void> | undefined;

    beforeEach(async () => {
      db = await openTestDatabase(dialect, linkSchema, 'last_access_toucher');
      store = new LinkStore(db.orm);
      const name = uniqueName('toucher');
      busConfig = {
        rabbitmqUrl: kind === 'rabbitmq' ? RABBITMQ_URL : '',
        exchange: `${name}.events`,
        queuePrefix: `${name}.`,
        queueType: 'classic',
        publishTimeoutMs: 5_000,
        yieldMaxLagMs: 0,
        retry: TEST_RETRY,
      };
      bus = openBus(busConfig, testLog);
      stack = new ShutdownStack(testLog);
      writes = [];
      loseNextAck = false;
      holdWrites = undefined;
    });

    afterEach(async () => {
      await stack.unwind(5_000);
      await bus.close();
      if (kind === 'rabbitmq') await removeTopology(topologyOf(busConfig));
      await db.close();
    });

    /** Starts the toucher as the link service does, on a store that records each write. */
    function startToucher(intervalMs = MINUTE) {
      const writer: LastAccessWriter = {
        async moveLastAccess(touches) {
          writes.push([...touches]);
          await holdWrites;
          const moved = await store.moveLastAccess(touches);
          if (loseNextAck) {
            loseNextAck = false;
            throw new Error('connection lost after the commit');
          }
          return moved;
        },
      };
      const supervisor = new Supervisor({ log: testLog, restart: { initialMs: 10, maxMs: 10 } });
      stack.push('actors', () => supervisor.stop());
      startLastAccessToucher(
        { bus, onStop: (name, stop) => stack.push(name, stop) },
        supervisor,
        writer,
        { intervalMs },
      );
    }

    const newLink = async () => {
      const link = aLink({ code: nextCode() });
      await storeLink(store, link);
      return link.id;
    };
    const lastAccessOf = async (id: string) =>
      (await db.orm.em.fork().findOneOrFail(LinkRow, { id })).lastAccessedAt ?? null;
    const publish = (clicks: { linkId: string; at: Date | undefined }[]) =>
      bus.publish(EVENTS.linkClicked, clickBatch(clicks));
    /** Publishes a click on a link of its own and waits until it is written: all before it are handled. */
    const settled = async () => {
      const marker = await newLink();
      await publish([{ linkId: marker, at: at(0) }]);
      await within(10_000, async () => (await lastAccessOf(marker)) !== null);
    };
    const writesOf = (id: string) =>
      writes.flatMap((write) => write.filter((touch) => touch.id === id).map((t) => t.at));

    test('when links are clicked, then each one’s last access moves to its latest click, and clicks without a link or a time are passed over', async () => {
      startToucher();
      const [once, twice, never] = [await newLink(), await newLink(), await newLink()];
      const nobodys = freshLinkId();
      await publish([
        { linkId: twice, at: at(2_000) },
        { linkId: once, at: at(1_000) },
        { linkId: twice, at: at(5_000) },
        { linkId: twice, at: at(3_000) },
        { linkId: nobodys, at: at(4_000) }, // a link nobody has (any more)
        { linkId: never, at: undefined },
        { linkId: '0', at: at(6_000) },
      ]);
      await within(10_000, async () => (await lastAccessOf(twice)) !== null);
      expect(await lastAccessOf(once)).toEqual(at(1_000));
      expect(await lastAccessOf(twice)).toEqual(at(5_000));
      expect(await lastAccessOf(never)).toBeNull();
      // One write for the whole message, each link in it once.
      expect(writes).toHaveLength(1);
      expect(writes[0]?.map((touch) => touch.id).sort()).toEqual([once, twice, nobodys].sort());
    });

    test('when a link is clicked many times within the interval, then it is written once, and again only for a click more than an interval later', async () => {
      startToucher(MINUTE);
      const hot = await newLink();
      for (let i = 0; i < 30; i++) {
        await publish([
          { linkId: hot, at: at(i * 2_000) },
          { linkId: hot, at: at(i * 2_000 + 500) },
        ]);
      }
      await settled();
      // The first message's latest click, then nothing for 58 s of clicks.
      expect(writesOf(hot)).toEqual([at(500)]);
      expect(await lastAccessOf(hot)).toEqual(at(500));
      // Exactly an interval after the written click: covered. A millisecond more: written.
      await publish([{ linkId: hot, at: at(500 + MINUTE) }]);
      await publish([{ linkId: hot, at: at(501 + MINUTE) }]);
      await settled();
      expect(writesOf(hot)).toEqual([at(500), at(501 + MINUTE)]);
      expect(await lastAccessOf(hot)).toEqual(at(501 + MINUTE));
    });

    test('when a write commits but its message is not acknowledged, then the message comes back and changes nothing', async () => {
      startToucher();
      const link = await newLink();
      loseNextAck = true;
      await publish([{ linkId: link, at: at(10_000) }]);
      // Written, failed, restarted with nothing remembered, redelivered, written again.
      await within(10_000, () => writesOf(link).length === 2);
      await settled();
      expect(writesOf(link)).toEqual([at(10_000), at(10_000)]);
      expect(await lastAccessOf(link)).toEqual(at(10_000));
      expect(await bus.deadLetters(CONSUMERS.lastAccessToucher.name)).toEqual([]);
    });

    test('when an old message is delivered again after newer clicks, then last access stays at the newest', async () => {
      startToucher();
      const link = await newLink();
      const old = clickBatch([{ linkId: link, at: at(1_000) }]);
      await bus.publish(EVENTS.linkClicked, old);
      await publish([{ linkId: link, at: at(5 * MINUTE) }]);
      await settled();
      expect(await lastAccessOf(link)).toEqual(at(5 * MINUTE));
      await bus.publish(EVENTS.linkClicked, old);
      await settled();
      expect(await lastAccessOf(link)).toEqual(at(5 * MINUTE));
      expect(writesOf(link)).toEqual([at(1_000), at(5 * MINUTE)]);
    });

    test('when a message does not decode, then it is parked after the bounded retries and the others flow meanwhile', async () => {
      startToucher();
      const [before, after] = [await newLink(), await newLink()];
      await publish([{ linkId: before, at: at(1_000) }]);
      // A length-delimited field running past the end of the message; and a batch with no clicks.
      await bus.publish(EVENTS.linkClicked, Uint8Array.from([0x0a, 0x7f, 0x01]));
      await bus.publish(EVENTS.linkClicked, LinkClickedBatch.encode({ clicks: [] }).finish());
      await publish([{ linkId: after, at: at(2_000) }]);
      const dead = () => bus.deadLetters(CONSUMERS.lastAccessToucher.name);
      // The message behind them is written while they still wait for their retries (100 + 200 ms).
      await within(10_000, async () => (await lastAccessOf(after)) !== null);
      expect((await dead()).length).toBeLessThan(2);
      expect(await lastAccessOf(before)).toEqual(at(1_000));
      await within(10_000, async () => (await dead()).length === 2);
      const parked = await dead();
      expect(parked.map((letter) => letter.attempts)).toEqual([3, 3]);
      expect(parked.map((letter) => letter.routingKey)).toEqual([
        EVENTS.linkClicked,
        EVENTS.linkClicked,
      ]);
      expect(parked[1]?.error).toBe('a link.clicked message with no clicks');
      // Parked for good: nothing comes back, and the toucher goes on.
      await sleep(400);
      expect(await dead()).toHaveLength(2);
      await settled();
    });

    test('when it is stopped mid-write, then the write finishes and is acknowledged, and the next message goes to the next toucher', async () => {
      startToucher();
      const [running, waiting] = [await newLink(), await newLink()];
      let release!: () => void;
      holdWrites = new Promise((resolve) => {
        release = resolve;
      });
      await publish([{ linkId: running, at: at(1_000) }]);
      await within(10_000, () => writesOf(running).length === 1);
      await publish([{ linkId: waiting, at: at(2_000) }]);
      await sleep(100);
      const stopping = stack.unwind(5_000);
      await sleep(100);
      expect(await lastAccessOf(running)).toBeNull();
      release();
      holdWrites = undefined;
      await stopping;
      expect(await lastAccessOf(running)).toEqual(at(1_000));
      expect(await lastAccessOf(waiting)).toBeNull();
      // A toucher started afterwards (on another instance, say) gets only what was not acknowledged.
      stack = new ShutdownStack(testLog);
      startToucher();
      await settled();
      expect(await lastAccessOf(waiting)).toEqual(at(2_000));
      expect(writesOf(running)).toHaveLength(1);
    });
  },
);

describe('what the toucher remembers', () => {
  let db: TestDatabase;
  let store: LinkStore;

  beforeEach(async () => {
    db = await openTestDatabase('sqlite', linkSchema, 'last_access_memory');
    store = new LinkStore(db.orm);
  });
  afterEach(() => db?.close());

  test('when it holds more links than its bound, or links written more than an interval before the newest click, then it forgets them and writing them again is harmless', async () => {
    const writes: string[][] = [];
    const writer: LastAccessWriter = {
      moveLastAccess(touches) {
        writes.push(touches.map((touch) => touch.id));
        return store.moveLastAccess(touches);
      },
    };
    const toucher = new LastAccessToucher(writer, { intervalMs: MINUTE, remember: 2 });
    const [a, b, c] = [freshLinkId(), freshLinkId(), freshLinkId()];
    for (const id of [a, b, c]) await storeLink(store, aLink({ id, code: nextCode() }));
    await toucher.receive([
      { linkId: a, at: T0 },
      { linkId: b, at: T0 },
    ]);
    await toucher.receive([{ linkId: c, at: T0 }]);
    expect(toucher.remembered).toBe(2);
    // `a` was forgotten (the bound), so it is written again; `c` is still covered.
    await toucher.receive([
      { linkId: a, at: T0 + 1 },
      { linkId: c, at: T0 + 1 },
    ]);
    expect(writes).toEqual([[a, b], [c], [a]]);
    // A click two intervals on: every link written before it no longer covers anything.
    await toucher.receive([{ linkId: b, at: T0 + 2 * MINUTE }]);
    expect(toucher.remembered).toBe(1);
    const stored = await db.orm.em.fork().find(LinkRow, { id: { $in: [a, b, c] } });
    expect(
      Object.fromEntries(stored.map((row) => [row.id, row.lastAccessedAt?.getTime()])),
    ).toEqual({ [a]: T0 + 1, [b]: T0 + 2 * MINUTE, [c]: T0 });
  });

  test('when a click is stamped later than the toucher’s clock, then it counts as now', async () => {
    const now = Date.UTC(2026, 10, 30, 12, 0, 0);
    const toucher = new LastAccessToucher(store, { intervalMs: MINUTE, now: () => now });
    const id = freshLinkId();
    await storeLink(store, aLink({ id, code: nextCode() }));
    await toucher.receive([{ linkId: id, at: now + 3_600_000 }]);
    expect((await db.orm.em.fork().findOneOrFail(LinkRow, { id })).lastAccessedAt).toEqual(
      new Date(now),
    );
  });
});
