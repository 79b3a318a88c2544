// The sweeper on the real stores: MariaDB with RabbitMQ, and SQLite with the
// in-process bus. Expired links (idle, dated, out of visits) are purged to
// tombstones in chunks, each announced once on `link.expired`; live ones are
// left alone; two sweepers over the same links purge each once, without an
// error; a chunk that fails is retried and completes.
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { LinkExpired } from '../../gen/shortener/v1/events.ts';
import { MemoryBroadcast } from '../../lib/broadcast/memory-broadcast.ts';
import type { Bus, Subscription } from '../../lib/bus/bus.ts';
import { EVENTS } from '../../lib/bus/catalog.ts';
import { MemoryCache } from '../../lib/cache/memory-cache.ts';
import { MemoryVisitCounter } from '../../lib/counter/visit-counter.ts';
import type { Dialect } from '../../lib/db/migrations.ts';
import { Metrics } from '../../lib/metrics/metrics.ts';
import { LinkChanges } from '../../services/link/changes/link-changes.ts';
import type { Link } from '../../services/link/domain/link.ts';
import { LinkRow } from '../../services/link/store/entities.ts';
import { ExpiryStore } from '../../services/link/store/expiry-store.ts';
import { LinkCache } from '../../services/link/store/link-cache.ts';
import { linkSchema } from '../../services/link/store/schema.ts';
import { Sweeper, type SweeperDeps } from '../../services/link/workers/sweeper.ts';
import { BUS_FLAVOURS, removeTopology, testTopology } from '../support/bus.ts';
import { DAY, TestClock } from '../support/clock.ts';
import { openTestDatabase, type TestDatabase } from '../support/databases.ts';
import { aLink } from '../support/links.ts';
import { testLog } from '../support/logger.ts';
import { within } from '../support/wait.ts';

const FLAVOURS: { bus: 'memory' | 'rabbitmq'; dialect: Dialect }[] = [
  { bus: 'memory', dialect: 'sqlite' },
  { bus: 'rabbitmq', dialect: 'mysql' },
];

const IDLE = 180 * DAY;

describe.each(FLAVOURS)('the sweeper ($dialect, $bus bus)', ({ bus: busName, dialect }) => {
  const clock = new TestClock(Date.UTC(2027, 0, 1));
  let db: TestDatabase;
  let bus: Bus;
  let listening: Subscription;
  let expiredEvents: Map<string, number>;
  let cache: LinkCache;
  let rawCache: MemoryCache;
  let changes: LinkChanges;
  let announced: Set<string>;
  const { topology, names } = testTopology({ expired: [EVENTS.linkExpired] });

  beforeEach(async () => {
    db = await openTestDatabase(dialect, linkSchema, 'sweeper');
    const flavour = BUS_FLAVOURS.find((f) => f.name === busName);
    if (!flavour) throw new Error(busName);
    bus = await flavour.open(topology);
    expiredEvents = new Map();
    listening = bus.consume(
      names.expired as string,
      async (deliveries) => {
        for (const delivery of deliveries) {
          const event = LinkExpired.decode(delivery.body);
          expiredEvents.set(event.linkId, (expiredEvents.get(event.linkId) ?? 0) + 1);
        }
      },
      { batchSize: 500, batchWaitMs: 20 },
    );
    rawCache = new MemoryCache();
    cache = new LinkCache(rawCache, {
      ttlMs: 3_600_000,
      negativeTtlMs: 30_000,
      log: testLog,
      idleMs: IDLE,
      now: clock.now,
    });
    changes = new LinkChanges(new MemoryBroadcast(), testLog);
    changes.start();
    announced = new Set();
    changes.watch({
      changed: (codes) => {
        for (const code of codes) announced.add(code);
      },
      reset: () => {},
      pause: () => {},
      heartbeat: () => {},
      end: () => {},
    });
  });
  afterEach(async () => {
    await listening?.stop();
    await changes?.stop();
    await bus?.close();
    if (busName === 'rabbitmq') await removeTopology(topology);
    await db?.close();
  });

  const deps = (overrides: Partial<SweeperDeps> = {}): SweeperDeps => ({
    expiry: new ExpiryStore(db.orm),
    cache,
    visits: new MemoryVisitCounter(),
    changes,
    bus,
    log: testLog,
    ...overrides,
  });
  const sweeper = (
    overrides: Partial<SweeperDeps> = {},
    chunk = 500,
    parallel = 3,
    pace: { ratePerSecond?: number; signal?: AbortSignal } = {},
  ) =>
    new Sweeper(deps(overrides), {
      idleMs: IDLE,
      chunk,
      parallel,
      now: clock.now,
      retry: { initialMs: 10, maxMs: 50 },
      ...pace,
    });

  async function insert(links: Link[]): Promise<void> {
    for (let i = 0; i < links.length; i += 1_000) {
      await db.orm.em.fork().insertMany(
        LinkRow,
        links.slice(i, i + 1_000).map((link) => ({ ...link, urlHash: null, deletedAt: null })),
      );
    }
  }
  const rowsOf = (codes: string[]) => db.orm.em.fork().find(LinkRow, { code: { $in: codes } });

  test('when links expired by idleness, by date or by their visits, then each becomes a tombstone announced once, and live ones stay', async () => {
    const now = clock.now();
    const idle = aLink({ code: 'idleGone', createdAt: new Date(now - IDLE - 1) });
    const usedLongAgo = aLink({
      code: 'usedOld',
      createdAt: new Date(now - 2 * IDLE),
      lastAccessedAt: new Date(now - IDLE - 1_000),
    });
    const dated = aLink({
      code: 'datedGone',
      createdAt: new Date(now - DAY),
      expiresAt: new Date(now - 1),
    });
    const exhausted = aLink({
      code: 'usedUp',
      createdAt: new Date(now - DAY),
      maxVisits: 3,
      exhaustedAt: new Date(now - 5),
    });
    const recentlyUsed = aLink({
      code: 'usedNow',
      createdAt: new Date(now - 2 * IDLE),
      lastAccessedAt: new Date(now - DAY),
    });
    const extended = aLink({
      code: 'extended',
      createdAt: new Date(now - IDLE - DAY),
      extendedTo: new Date(now + DAY),
    });
    const young = aLink({ code: 'young', createdAt: new Date(now - DAY) });
    await insert([idle, usedLongAgo, dated, exhausted, recentlyUsed, extended, young]);
    for (const link of [idle, dated, young]) await cache.put(link);

    expect(await sweeper().sweep()).toBe(4);

    const rows = await rowsOf([
      'idleGone',
      'usedOld',
      'datedGone',
      'usedUp',
      'usedNow',
      'extended',
      'young',
    ]);
    const gone = rows
      .filter((row) => row.deletedAt !== null)
      .map((row) => row.code)
      .sort();
    expect(gone).toEqual(['datedGone', 'idleGone', 'usedOld', 'usedUp']);
    for (const row of rows.filter((r) => r.deletedAt !== null)) {
      expect(row.targetUrl).toBe('');
      expect(row.urlHash ?? null).toBeNull();
    }
    await within(10_000, () => expiredEvents.size === 4);
    expect(new Set(expiredEvents.keys())).toEqual(
      new Set([idle.id, usedLongAgo.id, dated.id, exhausted.id]),
    );
    // The shared cache lost the purged entries, kept the live one; every watcher heard the codes.
    expect(await rawCache.getMany(['link:idleGone', 'link:datedGone', 'link:young'])).toEqual([
      null,
      null,
      expect.stringContaining('young'),
    ]);
    await within(2_000, () => announced.has('usedUp'));
    expect([...announced].sort()).toEqual(['datedGone', 'idleGone', 'usedOld', 'usedUp']);

    // A second sweep finds nothing more to do.
    expect(await sweeper().sweep()).toBe(0);
  });

  test('when two sweepers run at once over the same 10,000 expired links, then each link is purged and announced once, with no error', async () => {
    const now = clock.now();
    const links = Array.from({ length: 10_000 }, (_, i) =>
      aLink({ code: `bulk${i}`, createdAt: new Date(now - IDLE - 1 - i) }),
    );
    const live = aLink({ code: 'bulkLive', createdAt: new Date(now - DAY) });
    await insert([...links, live]);

    const [first, second] = await Promise.all([sweeper().sweep(), sweeper().sweep()]);
    expect(first + second).toBe(10_000);

    const remaining = await db.orm.em.fork().count(LinkRow, { deletedAt: null });
    expect(remaining).toBe(1);
    await within(30_000, () => expiredEvents.size === 10_000);
    expect([...expiredEvents.values()].every((count) => count === 1)).toBe(true);
    expect(expiredEvents.has(live.id)).toBe(false);
  }, 120_000);

  test('when a chunk fails twice, then it is retried with backoff and completes', async () => {
    const now = clock.now();
    const links = Array.from({ length: 25 }, (_, i) =>
      aLink({ code: `flaky${i}`, createdAt: new Date(now - IDLE - 1 - i) }),
    );
    await insert(links);
    const store = new ExpiryStore(db.orm);
    const attempts: string[] = [];
    let failures = 0;
    // The first idle chunk's first two attempts fail after claiming their rows, before the commit.
    const flaky: SweeperDeps['expiry'] = {
      purgeChunk: (chunk, beforeCommit) => {
        attempts.push(chunk.pass);
        return store.purgeChunk(chunk, async (claimed) => {
          if (chunk.pass === 'idle' && failures < 2) {
            failures++;
            throw new Error('connection lost mid-chunk');
          }
          await beforeCommit(claimed);
        });
      },
    };

    // Nothing dated or used up; then one idle chunk of 10 at a time: 10, 10, 5, then an
    // empty one; the actor's sweep is measured.
    const metrics = new Metrics();
    await sweeper({ expiry: flaky, metrics }, 10, 1).receive();
    expect((await metrics.sweptLinks.get()).values[0]?.value).toBe(25);
    expect((await metrics.sweeps.get()).values).toEqual([
      expect.objectContaining({ labels: { outcome: 'completed' }, value: 1 }),
    ]);
    expect((await metrics.lastSweep.get()).values[0]?.value).toBe(clock.now() / 1_000);

    expect(failures).toBe(2);
    expect(attempts).toEqual(['dated', 'exhausted', ...Array(6).fill('idle')]);
    expect(await db.orm.em.fork().count(LinkRow, { deletedAt: null })).toBe(0);
    await within(10_000, () => expiredEvents.size === 25);
  });

  const idleLinks = (prefix: string, count: number) =>
    Array.from({ length: count }, (_, i) =>
      aLink({ code: `${prefix}${i}`, createdAt: new Date(clock.now() - IDLE - 1 - i) }),
    );
  const livingCount = () => db.orm.em.fork().count(LinkRow, { deletedAt: null });

  test('when the sweeper is paced, then a backlog is purged no faster than its rate, and all of it', async () => {
    await insert(idleLinks('paced', 60));
    const started = performance.now();
    // 200 links/s in chunks of 10, two at once: each chunk lasts at least 100 ms, so 60 take 300 ms.
    expect(await sweeper({}, 10, 2, { ratePerSecond: 200 }).sweep()).toBe(60);
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
    expect(await livingCount()).toBe(0);
    await within(10_000, () => expiredEvents.size === 60);
  });

  test('when the service stops mid-sweep, then the sweep ends after its chunk in flight, and the next sweep purges the rest', async () => {
    await insert(idleLinks('stopped', 50));
    const stopping = new AbortController();
    // 100 links/s in chunks of 10: a chunk every 100 ms, five of them if left alone.
    const sweep = sweeper({}, 10, 1, { ratePerSecond: 100, signal: stopping.signal }).sweep();
    await within(5_000, async () => (await livingCount()) < 50);
    stopping.abort();
    const stoppedAt = performance.now();
    const purged = await sweep;
    expect(performance.now() - stoppedAt).toBeLessThan(1_000);
    expect(purged).toBeGreaterThan(0);
    expect(purged).toBeLessThan(50);
    expect(await livingCount()).toBe(50 - purged);

    expect(await sweeper().sweep()).toBe(50 - purged);
    expect(await livingCount()).toBe(0);
    await within(10_000, () => expiredEvents.size === 50);
  });
});
