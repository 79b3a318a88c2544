// The visit recorder on real databases (MariaDB and SQLite), as the bus
// consumer will call it: a batch is stored with its user agent parsed, bots
// flagged and addresses anonymised; the same batch again changes nothing
// (visits, rollups, unique visitors); and the rollups hold what stats read.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Dialect } from '../../lib/db/migrations.ts';
import type { Click } from '../../services/analytics/domain/click.ts';
import { anonymiseAddress } from '../../services/analytics/domain/client-address.ts';
import { RankingCounter } from '../../services/analytics/domain/count-ranking.ts';
import { dayOf } from '../../services/analytics/domain/days.ts';
import { VisitRecorder } from '../../services/analytics/domain/record-visits.ts';
import { VisitorSketch } from '../../services/analytics/domain/visitor-sketch.ts';
import { MemoryRanking } from '../../services/analytics/ranking/memory-ranking.ts';
import { analyticsSchema } from '../../services/analytics/store/schema.ts';
import {
  MAX_VALUES_PER_DAY,
  OTHER_VALUE,
  VisitStore,
} from '../../services/analytics/store/visit-store.ts';
import { openTestDatabase, type TestDatabase } from '../support/databases.ts';

const DIALECTS: Dialect[] = ['mysql', 'sqlite'];

const CHROME_WINDOWS =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const SAFARI_IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';
const GOOGLEBOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';

const DAY1 = Date.UTC(2026, 10, 28, 10, 0, 0);
const DAY2 = Date.UTC(2026, 10, 29, 15, 30, 0);

let nextId = 9_007_199_254_740_993n; // above 2^53: ids must survive exactly
function click(overrides: Partial<Click> = {}): Click {
  nextId += 2n;
  return {
    eventId: String(nextId),
    linkId: '9007199254740997',
    code: 'aBc1234',
    ownerId: '700000000000000001',
    at: new Date(DAY1),
    ip: '203.0.113.77',
    userAgent: CHROME_WINDOWS,
    referer: 'https://News.Example.com/item?id=1',
    acceptLanguage: 'de-CH,de;q=0.9,en;q=0.8',
    ...overrides,
  };
}

describe('client addresses', () => {
  test('when an address is anonymised, then IPv4 keeps its /24 and IPv6 its /48, as configured', () => {
    const prefixes = { ipv4: 24, ipv6: 48 };
    expect(anonymiseAddress('203.0.113.77', prefixes)).toBe('203.0.113.0');
    expect(anonymiseAddress('2001:db8:85a3:8d3:1319:8a2e:370:7348', prefixes)).toBe(
      '2001:db8:85a3::',
    );
    expect(anonymiseAddress('2001:DB8::1', prefixes)).toBe('2001:db8::');
    expect(anonymiseAddress('::ffff:198.51.100.9', prefixes)).toBe('198.51.100.0');
    expect(anonymiseAddress('fe80::1%eth0', prefixes)).toBe('fe80::');
    expect(anonymiseAddress('not an address', prefixes)).toBe('');
    expect(anonymiseAddress('203.0.113.77', { ipv4: 16, ipv6: 32 })).toBe('203.0.0.0');
    expect(anonymiseAddress('2001:db8:85a3::7348', { ipv4: 32, ipv6: 128 })).toBe(
      '2001:db8:85a3::7348',
    );
  });
});

describe.each(DIALECTS)('visit recorder (%s)', (dialect) => {
  let db: TestDatabase;
  let store: VisitStore;
  let recorder: VisitRecorder;

  beforeAll(async () => {
    db = await openTestDatabase(dialect, analyticsSchema, 'analytics_recorder');
    store = new VisitStore(db.orm, dialect);
    recorder = new VisitRecorder(store, { prefixes: { ipv4: 24, ipv6: 48 } });
  });
  afterAll(() => db?.close());

  /** Visits and distinct visitors per day, as the stats read them. */
  const dailyCounts = async (
    linkId: string,
    range: { from: number; to: number },
    includeBots: boolean,
  ) => {
    const days = new Map<number, { day: number; visits: number; visitors: number }>();
    for (const row of await store.linkDays(linkId, range)) {
      if (row.bot && !includeBots) continue;
      const counts = days.get(row.day) ?? { day: row.day, visits: 0, visitors: 0 };
      counts.visits += row.visits;
      counts.visitors += row.visitors;
      days.set(row.day, counts);
    }
    return [...days.values()];
  };

  /** Each breakdown value's visits over the range, as [dimension, value, visits]. */
  const breakdowns = async (
    linkId: string,
    range: { from: number; to: number },
    includeBots: boolean,
  ) => {
    const totals = new Map<string, { dimension: string; value: string; visits: number }>();
    for (const row of await store.linkDays(linkId, range)) {
      if (row.bot && !includeBots) continue;
      for (const [dimension, counts] of Object.entries(row.facets)) {
        for (const [value, visits] of Object.entries(counts ?? {})) {
          const key = `${dimension}:${value}`;
          const entry = totals.get(key) ?? { dimension, value, visits: 0 };
          entry.visits += visits;
          totals.set(key, entry);
        }
      }
    }
    return [...totals.values()];
  };

  const count = async (sql: string, params: unknown[] = []) => {
    const rows = await db.orm.em.fork().execute<Record<string, unknown>[]>(sql, params);
    return Number(Object.values(rows[0] ?? {})[0]);
  };

  test('when a batch is recorded, then each visit is stored parsed, bots flagged and addresses anonymised, IPv6 included', async () => {
    const linkId = '9007199254740999';
    const batch = [
      click({ linkId, ip: '203.0.113.77', userAgent: CHROME_WINDOWS }),
      click({ linkId, ip: '2001:db8:85a3:8d3:1319:8a2e:370:7348', userAgent: SAFARI_IPHONE }),
      click({ linkId, ip: '198.51.100.4', userAgent: GOOGLEBOT, referer: '' }),
    ];
    expect(await recorder.record(batch)).toEqual({ recorded: 3, duplicates: 0 });
    const visits = await store.listVisits(linkId, null, 10);
    const byId = new Map(visits.map((visit) => [visit.id, visit]));
    expect(byId.get(batch[0]?.eventId ?? '')).toMatchObject({
      ip: '203.0.113.0',
      browser: 'Chrome',
      os: 'Windows',
      device: 'desktop',
      bot: false,
      userAgent: CHROME_WINDOWS,
      referer: 'https://News.Example.com/item?id=1',
      acceptLanguage: 'de-CH,de;q=0.9,en;q=0.8',
    });
    expect(byId.get(batch[1]?.eventId ?? '')).toMatchObject({
      ip: '2001:db8:85a3::',
      browser: 'Safari',
      os: 'iOS',
      device: 'mobile',
      bot: false,
    });
    expect(byId.get(batch[2]?.eventId ?? '')).toMatchObject({
      ip: '198.51.100.0',
      browser: 'Googlebot',
      device: 'bot',
      bot: true,
    });
    // No raw address anywhere in the table.
    expect(
      await count('select count(*) from `visits` where `ip` in (?, ?)', [
        '203.0.113.77',
        '198.51.100.4',
      ]),
    ).toBe(0);
  });

  test('when the same batch is recorded twice, or twice at once, then it counts once: visits, rollups and unique visitors', async () => {
    const linkId = '9007199254741001';
    const batch = [
      click({ linkId, ip: '203.0.113.1' }),
      click({ linkId, ip: '203.0.113.1' }), // the same visitor again
      click({ linkId, ip: '203.0.113.2', at: new Date(DAY2) }),
    ];
    expect(await recorder.record(batch)).toEqual({ recorded: 3, duplicates: 0 });
    const rollups = () =>
      count('select sum(`visits`) from `link_days` where `link_id` = ?', [linkId]);
    const before = await rollups();
    expect(await recorder.record(batch)).toEqual({ recorded: 0, duplicates: 3 });
    const [again, atOnce] = await Promise.all([
      recorder.record(batch),
      recorder.record([...batch, click({ linkId })]),
    ]);
    expect(again.recorded + atOnce.recorded).toBe(1);
    expect(await count('select count(*) from `visits` where `link_id` = ?', [linkId])).toBe(4);
    // The one new visit.
    expect(await rollups()).toBe(before + 1);
    const range = { from: dayOf(DAY1), to: dayOf(DAY2) };
    expect(await dailyCounts(linkId, range, true)).toEqual([
      { day: dayOf(DAY1), visits: 3, visitors: 2 },
      { day: dayOf(DAY2), visits: 1, visitors: 1 },
    ]);
  });

  test('when a later batch brings a visitor seen before that day and a new one, then only the new one counts as a visitor', async () => {
    const linkId = '9007199254741901';
    await recorder.record([click({ linkId, ip: '203.0.113.10' })]);
    expect(
      await recorder.record([
        click({ linkId, ip: '203.0.113.10' }),
        click({ linkId, ip: '203.0.113.11' }),
      ]),
    ).toEqual({ recorded: 2, duplicates: 0 });
    expect(await dailyCounts(linkId, { from: dayOf(DAY1), to: dayOf(DAY1) }, true)).toEqual([
      { day: dayOf(DAY1), visits: 3, visitors: 2 },
    ]);
  });

  test('when visits are rolled up, then each day and breakdown counts them, bots apart', async () => {
    const linkId = '9007199254741003';
    await recorder.record([
      click({ linkId, userAgent: CHROME_WINDOWS, acceptLanguage: 'en-GB,en;q=0.9' }),
      click({ linkId, userAgent: SAFARI_IPHONE, ip: '203.0.113.9', referer: '' }),
      click({ linkId, userAgent: GOOGLEBOT, ip: '66.249.66.1', at: new Date(DAY2) }),
    ]);
    const range = { from: dayOf(DAY1), to: dayOf(DAY2) };
    expect(await dailyCounts(linkId, range, false)).toEqual([
      { day: dayOf(DAY1), visits: 2, visitors: 2 },
    ]);
    const humans = await breakdowns(linkId, range, false);
    const of = (dimension: string) =>
      humans
        .filter((entry) => entry.dimension === dimension)
        .map(({ value, visits }) => [value, visits])
        .sort();
    expect(of('browser')).toEqual([
      ['Chrome', 1],
      ['Safari', 1],
    ]);
    expect(of('os')).toEqual([
      ['Windows', 1],
      ['iOS', 1],
    ]);
    expect(of('device')).toEqual([
      ['desktop', 1],
      ['mobile', 1],
    ]);
    expect(of('referrer')).toEqual([
      ['', 1],
      ['news.example.com', 1],
    ]);
    expect(of('language')).toEqual([
      ['de', 1],
      ['en', 1],
    ]);
    const all = await breakdowns(linkId, range, true);
    expect(
      all
        .filter((entry) => entry.dimension === 'device')
        .map((e) => e.value)
        .sort(),
    ).toEqual(['bot', 'desktop', 'mobile']);
  });

  test('when a visitor comes on two days, then each day counts them and the range counts them once, from sketches alone', async () => {
    const linkId = '9007199254741005';
    const other = new VisitRecorder(store, { prefixes: { ipv4: 24, ipv6: 48 } });
    await recorder.record([click({ linkId, ip: '203.0.113.50' })]);
    // Another replica (another recorder) shares the salt: the visitor is recognised.
    await other.record([
      click({ linkId, ip: '203.0.113.50', at: new Date(DAY2) }),
      click({ linkId, ip: '203.0.113.51', at: new Date(DAY2) }),
    ]);
    const range = { from: dayOf(DAY1), to: dayOf(DAY2) };
    expect(await dailyCounts(linkId, range, true)).toEqual([
      { day: dayOf(DAY1), visits: 1, visitors: 1 },
      { day: dayOf(DAY2), visits: 2, visitors: 2 },
    ]);
    const days = await store.linkDays(linkId, range);
    expect(VisitorSketch.union(days.map((day) => day.sketch)).estimate()).toBe(2);
    // No visitor hash is kept anywhere: the visits hold the anonymised address only.
    expect(
      await count('select count(*) from `visits` where `link_id` = ? and `ip` = ?', [
        linkId,
        '203.0.113.0',
      ]),
    ).toBe(3);
  });

  test('when a day has more referrers than a day keeps, then the rest count under (other) and no visit is lost', async () => {
    const linkId = '9007199254741007';
    const hosts = MAX_VALUES_PER_DAY + 50;
    await recorder.record(
      Array.from({ length: hosts }, (_, i) =>
        click({ linkId, referer: `https://site${i}.example/` }),
      ),
    );
    const referrers = (
      await breakdowns(linkId, { from: dayOf(DAY1), to: dayOf(DAY1) }, true)
    ).filter((entry) => entry.dimension === 'referrer');
    expect(referrers).toHaveLength(MAX_VALUES_PER_DAY + 1);
    expect(referrers.find((entry) => entry.value === OTHER_VALUE)?.visits).toBe(50);
    expect(referrers.reduce((sum, entry) => sum + entry.visits, 0)).toBe(hosts);
  });

  test('when a facet value looks like an object key, then it is counted like any other', async () => {
    const linkId = '9007199254741009';
    await recorder.record([
      click({ linkId, referer: 'http://__proto__/' }),
      click({ linkId, referer: 'http://constructor/' }),
    ]);
    const referrers = (await breakdowns(linkId, { from: dayOf(DAY1), to: dayOf(DAY1) }, true))
      .filter((entry) => entry.dimension === 'referrer')
      .map(({ value, visits }) => [value, visits])
      .sort();
    expect(referrers).toEqual([
      ['__proto__', 1],
      ['constructor', 1],
    ]);
  });

  test('when days were read once and another replica adds visits to some, then a second read shows them and keeps the others', async () => {
    const linkId = '9007199254741011';
    const range = { from: dayOf(DAY1), to: dayOf(DAY2) };
    await recorder.record([
      click({ linkId, at: new Date(DAY1) }),
      click({ linkId, at: new Date(DAY2), ip: '198.51.100.4' }),
    ]);
    const first = await store.linkDays(linkId, range);
    expect(first.map((day) => [day.day, day.visits])).toEqual([
      [dayOf(DAY1), 1],
      [dayOf(DAY2), 1],
    ]);
    // Another replica records: this store's kept copy of the second day is stale.
    const other = new VisitRecorder(new VisitStore(db.orm, dialect), {
      prefixes: { ipv4: 24, ipv6: 48 },
    });
    await other.record([
      click({ linkId, at: new Date(DAY2), ip: '192.0.2.50', userAgent: SAFARI_IPHONE }),
    ]);
    const second = await store.linkDays(linkId, range);
    expect(second.map((day) => [day.day, day.visits, day.visitors])).toEqual([
      [dayOf(DAY1), 1, 1],
      [dayOf(DAY2), 2, 2],
    ]);
    expect(second[1]?.facets.browser).toEqual({ Chrome: 1, Safari: 1 });
    expect(VisitorSketch.decode(second[1]?.sketch ?? new Uint8Array()).estimate()).toBe(2);
    // The unchanged day is the one read before, not read again.
    expect(second[0]).toBe(first[0]);
    expect(second[1]).not.toBe(first[1]);
  });

  test('when the ranking counter gets the same batch twice, then it counts the human clicks once', async () => {
    const ranking = new MemoryRanking({ dedupHorizonMs: 15 * 60_000 });
    const counter = new RankingCounter(ranking);
    const now = new Date();
    const batch = [
      click({ linkId: '11', code: 'one', at: now }),
      click({ linkId: '11', code: 'one', at: now }),
      click({ linkId: '11', code: 'one', at: now, userAgent: GOOGLEBOT }),
    ];
    expect(await counter.record(batch)).toBe(2);
    expect(await counter.record(batch)).toBe(0);
    expect(await ranking.visitsOf('5m', [{ linkId: '11', code: 'one' }])).toEqual([2]);
  });
});
