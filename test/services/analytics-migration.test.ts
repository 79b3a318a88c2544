// Migration 0003 on a database recorded before it: each day's visits,
// visitors and breakdowns move into its link-day rows, and the stats read
// them as they read days recorded since.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Dialect } from '../../lib/db/migrations.ts';
import { openDatabase } from '../../lib/db/open.ts';
import { VisitRecorder } from '../../services/analytics/domain/record-visits.ts';
import { VisitorSketch } from '../../services/analytics/domain/visitor-sketch.ts';
import { analyticsSchema } from '../../services/analytics/store/schema.ts';
import { VisitStore } from '../../services/analytics/store/visit-store.ts';
import { openTestDatabase, type TestDatabase } from '../support/databases.ts';
import { testLog } from '../support/logger.ts';

const DIALECTS: Dialect[] = ['mysql', 'sqlite'];

describe.each(DIALECTS)('analytics migration to link days (%s)', (dialect) => {
  let db: TestDatabase;

  beforeAll(async () => {
    const before = { ...analyticsSchema, migrations: analyticsSchema.migrations.slice(0, 2) };
    db = await openTestDatabase(dialect, before, 'analytics_migration');
    const em = db.orm.em.fork();
    const rows: [string, number, number, string, string, number][] = [
      ['101', 20000, 0, 'visits', '', 5],
      ['101', 20000, 0, 'visitors', '', 3],
      ['101', 20000, 0, 'browser', 'Chrome', 4],
      ['101', 20000, 0, 'browser', 'Safari', 1],
      ['101', 20000, 0, 'referrer', '', 5],
      ['101', 20000, 1, 'visits', '', 2],
      ['101', 20000, 1, 'visitors', '', 1],
      ['101', 20000, 1, 'device', 'bot', 2],
      ['101', 20001, 0, 'visits', '', 1],
      ['101', 20001, 0, 'visitors', '', 1],
    ];
    for (const row of rows) {
      await em.execute(
        'insert into `visit_rollups` (`link_id`, `day`, `bot`, `dimension`, `value`, `visits`) values (?, ?, ?, ?, ?, ?)',
        row,
      );
    }
    await db.orm.close();
    db.orm = await openDatabase({ url: db.url, schema: analyticsSchema, log: testLog });
  });
  afterAll(() => db?.close());

  test('when 0003 runs, then every day keeps its visits, visitors and breakdowns', async () => {
    const days = await new VisitStore(db.orm, dialect).linkDays('101', { from: 19999, to: 20002 });
    expect(
      days.map(({ day, bot, visits, visitors, unsketchedVisitors, sketch, facets }) => ({
        day,
        bot,
        visits,
        visitors,
        unsketchedVisitors,
        sketched: VisitorSketch.decode(sketch).estimate(),
        facets,
      })),
    ).toEqual([
      {
        day: 20000,
        bot: false,
        visits: 5,
        visitors: 3,
        unsketchedVisitors: 3,
        sketched: 0,
        facets: { browser: { Chrome: 4, Safari: 1 }, referrer: { '': 5 } },
      },
      {
        day: 20000,
        bot: true,
        visits: 2,
        visitors: 1,
        unsketchedVisitors: 1,
        sketched: 0,
        facets: { device: { bot: 2 } },
      },
      {
        day: 20001,
        bot: false,
        visits: 1,
        visitors: 1,
        unsketchedVisitors: 1,
        sketched: 0,
        facets: {},
      },
    ]);
  });

  test('when a day from before the migration gets new visits, then its old visitors are kept and new ones added', async () => {
    const store = new VisitStore(db.orm, dialect);
    const recorder = new VisitRecorder(store, { prefixes: { ipv4: 24, ipv6: 48 } });
    await recorder.record([
      {
        eventId: '900000000000000001',
        linkId: '101',
        code: 'old1234',
        ownerId: '1',
        at: new Date(20000 * 86_400_000 + 3_600_000),
        ip: '203.0.113.7',
        userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0.0.0 Safari/537.36',
        referer: '',
        acceptLanguage: 'en',
      },
    ]);
    const [day] = await store.linkDays('101', { from: 20000, to: 20000 });
    expect(day).toMatchObject({ visits: 6, visitors: 4, unsketchedVisitors: 3 });
    expect(VisitorSketch.decode(day?.sketch ?? new Uint8Array()).estimate()).toBe(1);
  });
});
