// The expiry-notice scheduler on the real stores: MariaDB with RabbitMQ, and
// SQLite with the in-process bus. A member's link expiring within the window
// gets one `link.expiring` event per expiry period, however many schedulers
// run and even when one stops mid-batch; a guest's gets none; a link used
// or extended since has a new period, and gets a new notice when that nears.
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { LinkExpiring } from '../../gen/shortener/v1/events.ts';
import type { Bus, Subscription } from '../../lib/bus/bus.ts';
import { EVENTS } from '../../lib/bus/catalog.ts';
import type { Dialect } from '../../lib/db/migrations.ts';
import { ExtendTokens } from '../../services/link/domain/extend-token.ts';
import type { Link } from '../../services/link/domain/link.ts';
import { LinkRow } from '../../services/link/store/entities.ts';
import { ExpiryStore } from '../../services/link/store/expiry-store.ts';
import { linkSchema } from '../../services/link/store/schema.ts';
import {
  ExpiryNoticeScheduler,
  type NoticeDeps,
} from '../../services/link/workers/expiry-notices.ts';
import { BUS_FLAVOURS, removeTopology, testTopology } from '../support/bus.ts';
import { DAY, TestClock } from '../support/clock.ts';
import { openTestDatabase, type TestDatabase } from '../support/databases.ts';
import { aLink, freshLinkId } from '../support/links.ts';
import { sleep, within } from '../support/wait.ts';

const FLAVOURS: { bus: 'memory' | 'rabbitmq'; dialect: Dialect }[] = [
  { bus: 'memory', dialect: 'sqlite' },
  { bus: 'rabbitmq', dialect: 'mysql' },
];

const IDLE = 180 * DAY;
const WINDOW = 7 * DAY;
const LEASE = 60_000;
const tokens = new ExtendTokens('a test secret of at least thirty-two characters');

describe.each(FLAVOURS)('expiry notices ($dialect, $bus bus)', ({ bus: busName, dialect }) => {
  const clock = new TestClock(Date.UTC(2027, 5, 1));
  let db: TestDatabase;
  let bus: Bus;
  let listening: Subscription;
  let notices: LinkExpiring[];
  const { topology, names } = testTopology({ notices: [EVENTS.linkExpiring] });

  beforeEach(async () => {
    db = await openTestDatabase(dialect, linkSchema, 'notices');
    const flavour = BUS_FLAVOURS.find((f) => f.name === busName);
    if (!flavour) throw new Error(busName);
    bus = await flavour.open(topology);
    notices = [];
    listening = bus.consume(names.notices as string, async (deliveries) => {
      for (const delivery of deliveries) notices.push(LinkExpiring.decode(delivery.body));
    });
  });
  afterEach(async () => {
    await listening?.stop();
    await bus?.close();
    if (busName === 'rabbitmq') await removeTopology(topology);
    await db?.close();
  });

  const scheduler = (overrides: Partial<NoticeDeps> = {}) =>
    new ExpiryNoticeScheduler(
      {
        expiry: new ExpiryStore(db.orm),
        bus,
        tokens,
        nextEventId: freshLinkId,
        ...overrides,
      },
      {
        idleMs: IDLE,
        windowMs: WINDOW,
        leaseMs: LEASE,
        extendPageUrl: 'https://sho.rt/extend',
        now: clock.now,
        batch: 4,
      },
    );
  const insert = (links: Link[]) =>
    db.orm.em.fork().insertMany(
      LinkRow,
      links.map((link) => ({ ...link, urlHash: null, deletedAt: null })),
    );
  /** A member's link last followed `ago` before now. */
  const usedAgo = (code: string, ago: number, kind: 'member' | 'guest' = 'member') =>
    aLink({
      code,
      ownerKind: kind,
      createdAt: new Date(clock.now() - 2 * IDLE),
      lastAccessedAt: new Date(clock.now() - ago),
    });
  const perLink = () => {
    const count = new Map<string, number>();
    for (const notice of notices) count.set(notice.code, (count.get(notice.code) ?? 0) + 1);
    return count;
  };

  test('when a member’s link will expire within the window, then one notice names it, its expiry, last use and a working extend link; a guest’s link, one outside the window and an expired one get none', async () => {
    const soon = usedAgo('soon', IDLE - 3 * DAY);
    const guests = usedAgo('guests', IDLE - 3 * DAY, 'guest');
    const later = usedAgo('later', IDLE - 8 * DAY);
    const gone = usedAgo('gone', IDLE + DAY);
    const dated = aLink({
      code: 'dated',
      ownerKind: 'member',
      createdAt: new Date(clock.now() - DAY),
      expiresAt: new Date(clock.now() + 2 * DAY),
    });
    await insert([soon, guests, later, gone, dated]);

    expect(await scheduler().run()).toBe(2);
    await within(10_000, () => notices.length === 2);
    const notice = notices.find((n) => n.code === 'soon') as LinkExpiring;
    expect(notice.linkId).toBe(soon.id);
    expect(notice.ownerId).toBe(soon.ownerId);
    expect(notice.targetUrl).toBe(soon.targetUrl);
    expect(notice.expiresAt?.getTime()).toBe((soon.lastAccessedAt as Date).getTime() + IDLE);
    expect(notice.lastAccessedAt?.getTime()).toBe(soon.lastAccessedAt?.getTime());
    expect(tokens.verify(notice.extendToken)).toEqual({
      linkId: soon.id,
      expiresAt: notice.expiresAt?.getTime(),
    });
    expect(notice.extendUrl).toBe(
      `https://sho.rt/extend?token=${encodeURIComponent(notice.extendToken)}`,
    );
    const datedNotice = notices.find((n) => n.code === 'dated');
    expect(datedNotice?.expiresAt?.getTime()).toBe(dated.expiresAt?.getTime());
    expect(datedNotice?.lastAccessedAt).toBeUndefined();

    // Again, and an hour later: the same periods, no new notice.
    expect(await scheduler().run()).toBe(0);
    clock.advance(3_600_000);
    expect(await scheduler().run()).toBe(0);
    await sleep(300);
    expect(notices).toHaveLength(2);
  });

  test('when two schedulers run at once, and one stops mid-batch, then every link is noticed exactly once for its period', async () => {
    const links = Array.from({ length: 12 }, (_, i) => usedAgo(`twin${i}`, IDLE - DAY - i * 1_000));
    await insert(links);
    // The first publishes three notices, then stops on its fourth (its claim stays, leased).
    let published = 0;
    const crashing: NoticeDeps['bus'] = {
      publish: async (key, body, options) => {
        if (published === 3) throw new Error('process killed');
        published++;
        return bus.publish(key, body, options);
      },
    };
    const [crashed, other] = await Promise.allSettled([
      scheduler({ bus: crashing }).run(),
      scheduler().run(),
    ]);
    expect(crashed.status).toBe('rejected');
    expect(other.status).toBe('fulfilled');
    // The crashed claim's lease runs out; the next run sends that notice, and nothing twice.
    clock.advance(LEASE + 1);
    await scheduler().run();
    await scheduler().run();

    await within(10_000, () => notices.length >= 12);
    await sleep(300);
    const counts = perLink();
    expect(counts.size).toBe(12);
    expect([...counts.values()].every((count) => count === 1)).toBe(true);
    expect(new Set(notices.map((n) => n.eventId)).size).toBe(12);
  });

  test('when a noticed link is used again, then its new expiry is a new period, noticed once when it nears', async () => {
    const link = usedAgo('comeback', IDLE - DAY);
    await insert([link]);
    expect(await scheduler().run()).toBe(1);
    // Followed now: its expiry moves 180 days out, beyond the window.
    await db.orm.em
      .fork()
      .nativeUpdate(LinkRow, { id: link.id }, { lastAccessedAt: new Date(clock.now()) });
    expect(await scheduler().run()).toBe(0);
    clock.advance(IDLE - 2 * DAY);
    expect(await scheduler().run()).toBe(1);
    expect(await scheduler().run()).toBe(0);
    await within(10_000, () => notices.length === 2);
    expect(notices[0]?.eventId).not.toBe(notices[1]?.eventId);
    expect(notices[1]?.expiresAt?.getTime()).toBe(
      (notices[0]?.expiresAt?.getTime() ?? 0) + IDLE - DAY,
    );
  });
});
