// The analytics service over gRPC, beside a real link service, on MariaDB and
// Redis and on the embedded default: clicks go in as the bus consumers will
// hand them over, and owners read their links' visits, stats and rankings.
// Anyone else is told NOT_FOUND; stats come from the rollups alone; and a
// caller's own ranking is their links ranked, not a filter of the global one.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  AnalyticsServiceClient,
  AnalyticsServiceService,
  type GetLinkStatsRequest,
  type ListVisitsResponse,
  TopLinksScope,
  TopLinksWindow,
  UniqueVisitorsMethod,
} from '../../gen/shortener/v1/analytics.ts';
import { type Principal, PrincipalKind } from '../../gen/shortener/v1/principal.ts';
import { busSettings } from '../../lib/bus/config.ts';
import { openBus } from '../../lib/bus/open.ts';
import { loadConfig } from '../../lib/config/load.ts';
import { dialable } from '../../lib/config/parsers.ts';
import { openDatabase } from '../../lib/db/open.ts';
import { connect, promiseClient, type ServiceClient } from '../../lib/grpc/client.ts';
import { type RunningService, startService } from '../../lib/service.ts';
import { openSharedState, type SharedState } from '../../lib/shared-state.ts';
import { analyticsSettings } from '../../services/analytics/config.ts';
import type { Click } from '../../services/analytics/domain/click.ts';
import { TopLinks } from '../../services/analytics/domain/top-links.ts';
import { LinkServiceOwnedLinks } from '../../services/analytics/links/link-client.ts';
import { type ClickConsumers, defineAnalyticsService } from '../../services/analytics/main.ts';
import { MemoryRanking } from '../../services/analytics/ranking/memory-ranking.ts';
import type { Ranking } from '../../services/analytics/ranking/ranking.ts';
import { analyticsSchema } from '../../services/analytics/store/schema.ts';
import { linkService } from '../../services/link/main.ts';
import { linkSchema } from '../../services/link/store/schema.ts';
import { dropDatabases } from '../support/databases.ts';
import { MYSQL_URL, REDIS_URL, uniqueName } from '../support/env.ts';
import { linkClientForTest, outcome, sendRaw, trailer } from '../support/grpc.ts';
import { testObservers } from '../support/infrastructure.ts';
import { testLog } from '../support/logger.ts';

type Flavour = 'mysql+redis' | 'embedded';
const FLAVOURS: Flavour[] = ['mysql+redis', 'embedded'];

const CHROME =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const FIREFOX_LINUX = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';
const GOOGLEBOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
/** The services' clock: distinct visitors are counted for today and yesterday only. */
const NOW = Date.UTC(2026, 10, 26, 21, 0, 0);

interface Running {
  link: RunningService;
  analytics: RunningService;
  consumers: ClickConsumers;
  shared: SharedState;
  analyticsDatabaseUrl: string;
  linkDatabaseUrl: string;
  stop(): Promise<void>;
}

/** Link and analytics as their processes run them, the analytics service dialling the link service. */
async function startServices(flavour: Flavour): Promise<Running> {
  const name = uniqueName('analytics_svc');
  const dataDir = mkdtempSync(join(tmpdir(), 'analytics-'));
  const databases = [`${name}_link`, `${name}_analytics`];
  const config = loadConfig(
    { link: linkService.settings, analytics: analyticsSettings },
    {
      LOG_LEVEL: 'warn',
      LINK_GRPC_LISTEN: '127.0.0.1:0',
      ANALYTICS_GRPC_LISTEN: '127.0.0.1:0',
      DATA_DIR: dataDir,
      ...(flavour === 'mysql+redis'
        ? {
            LINK_DATABASE_URL: `${MYSQL_URL}/${databases[0]}`,
            ANALYTICS_DATABASE_URL: `${MYSQL_URL}/${databases[1]}`,
            REDIS_URL,
            REDIS_KEY_PREFIX: `${name}:`,
          }
        : {}),
    },
  );
  const shared = await openSharedState({
    redisUrl: config.redisUrl,
    keyPrefix: config.redisKeyPrefix,
    log: testLog,
    name: 'test',
  });
  // The in-process bus: these stories feed the recorder directly.
  const bus = openBus(loadConfig({ bus: busSettings }, {}).bus, testLog);
  const infrastructure = { shared, bus, ...testObservers(bus) };
  const link = await startService(linkService, config.link, config, testLog, infrastructure);
  await link.ready;
  let consumers: ClickConsumers | undefined;
  const service = defineAnalyticsService({
    now: () => NOW,
    started: (started) => {
      consumers = started;
    },
  });
  const analytics = await startService(
    service,
    { ...config.analytics, linkTarget: dialable(link.address) },
    config,
    testLog,
    infrastructure,
  );
  await analytics.ready;
  if (!consumers) throw new Error('the analytics service did not hand over its consumers');
  return {
    link,
    analytics,
    consumers,
    shared,
    analyticsDatabaseUrl: config.analytics.databaseUrl,
    linkDatabaseUrl: config.link.databaseUrl,
    async stop() {
      await analytics.stop();
      await link.stop();
      await bus.close();
      await shared.close();
      if (flavour === 'mysql+redis') await dropDatabases(databases);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

let nextPrincipal = 800_000_000_000_000_000n;
const aGuest = (): Principal => ({
  id: String(++nextPrincipal),
  kind: PrincipalKind.PRINCIPAL_KIND_GUEST,
});

let nextEvent = 5_000_000_000_000_000_000n;
function clickOn(
  link: { id: string; code: string; ownerId: string },
  at: Date,
  o: Partial<Click> = {},
): Click {
  return {
    eventId: String(++nextEvent),
    linkId: link.id,
    code: link.code,
    ownerId: link.ownerId,
    at,
    ip: '203.0.113.10',
    userAgent: CHROME,
    referer: 'https://news.example.com/',
    acceptLanguage: 'en-US,en;q=0.9',
    ...o,
  };
}

describe.each(FLAVOURS)('analytics service (%s)', (flavour) => {
  let services: Running;
  let analytics: ServiceClient<typeof AnalyticsServiceService>;
  let raw: AnalyticsServiceClient;

  beforeAll(async () => {
    services = await startServices(flavour);
    raw = connect(AnalyticsServiceClient, dialable(services.analytics.address), 5_000);
    analytics = promiseClient(raw, AnalyticsServiceService);
  });
  afterAll(async () => {
    raw?.close();
    await services?.stop();
  });

  const createLink = async (caller: Principal, path: string) => {
    const links = linkClientForTest(services.link.address);
    const { link } = await links.createLink({
      caller,
      targetUrl: `https://example.com/${path}`,
      expiresAt: undefined,
      client: undefined,
      alias: '',
    });
    if (!link) throw new Error('no link created');
    return link;
  };

  test('when the owner pages through a link’s visits, then they come newest first with addresses anonymised', async () => {
    const owner = aGuest();
    const link = await createLink(owner, 'visits');
    const start = Date.UTC(2026, 10, 20, 9, 0, 0);
    const clicks = [0, 1, 2, 3, 4].map((i) =>
      clickOn(link, new Date(start + i * 60_000), {
        ip: i % 2 === 0 ? `198.51.100.${i + 1}` : '2001:db8:1234:5678::1',
      }),
    );
    await services.consumers.visits.record(clicks);
    const pages: ListVisitsResponse[] = [];
    let pageToken = '';
    do {
      const page = await analytics.listVisits({
        caller: owner,
        code: link.code,
        pageSize: 2,
        pageToken,
      });
      pages.push(page);
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(pages.map((page) => page.visits.length)).toEqual([2, 2, 1]);
    const visits = pages.flatMap((page) => page.visits);
    expect(visits.map((visit) => visit.id)).toEqual(clicks.map((c) => c.eventId).reverse());
    expect(visits.map((visit) => visit.ip)).toEqual([
      '198.51.100.0',
      '2001:db8:1234::',
      '198.51.100.0',
      '2001:db8:1234::',
      '198.51.100.0',
    ]);
    expect(visits[0]).toMatchObject({
      visitedAt: new Date(start + 4 * 60_000),
      browser: 'Chrome',
      os: 'Windows',
      device: 'desktop',
      bot: false,
      referer: 'https://news.example.com/',
      acceptLanguage: 'en-US,en;q=0.9',
    });
  });

  test('when anyone but the owner asks about a link, then NOT_FOUND, exactly as for a code that does not exist', async () => {
    const owner = aGuest();
    const link = await createLink(owner, 'private');
    await services.consumers.visits.record([clickOn(link, new Date())]);
    for (const code of [link.code, 'noSuchCode1']) {
      const visits = await outcome((callback) =>
        raw.listVisits({ caller: aGuest(), code, pageSize: 0, pageToken: '' }, callback),
      );
      expect(visits.error?.code, code).toBe(status.NOT_FOUND);
      expect(trailer(visits.error, 'error-code')).toBe('analytics_link_not_found');
      const stats = await outcome((callback) =>
        raw.getLinkStats(
          {
            caller: aGuest(),
            code,
            fromDate: '',
            toDate: '',
            includeBots: false,
            breakdownLimit: 0,
          },
          callback,
        ),
      );
      expect(stats.error?.code, code).toBe(status.NOT_FOUND);
      expect(stats.error?.details).toBe(visits.error?.details);
    }
    const anonymous = await outcome((callback) =>
      raw.listVisits({ caller: undefined, code: link.code, pageSize: 0, pageToken: '' }, callback),
    );
    expect(anonymous.error?.code).toBe(status.UNAUTHENTICATED);
  });

  test('when the owner asks for stats, then the per-day series and breakdowns come from the rollups, bots only if asked', async () => {
    const owner = aGuest();
    const link = await createLink(owner, 'stats');
    const day2 = new Date(Date.UTC(2026, 10, 25, 8, 0, 0));
    const day3 = new Date(Date.UTC(2026, 10, 26, 20, 0, 0));
    await services.consumers.visits.record([
      clickOn(link, day2, { ip: '203.0.113.1' }),
      clickOn(link, day2, { ip: '203.0.113.1' }),
      clickOn(link, day2, {
        ip: '203.0.113.2',
        userAgent: FIREFOX_LINUX,
        referer: '',
        acceptLanguage: 'de',
      }),
      clickOn(link, day2, { ip: '66.249.66.1', userAgent: GOOGLEBOT }),
      clickOn(link, day3, { ip: '203.0.113.1' }),
    ]);
    const ask = (o: Partial<GetLinkStatsRequest> = {}) =>
      analytics.getLinkStats({
        caller: owner,
        code: link.code,
        fromDate: '2026-11-24',
        toDate: '2026-11-26',
        includeBots: false,
        breakdownLimit: 0,
        ...o,
      });
    const humans = await ask();
    expect(humans).toMatchObject({
      fromDate: '2026-11-24',
      toDate: '2026-11-26',
      total: '4',
      // 203.0.113.1 came on both days: one visitor over the range.
      uniqueVisitors: '2',
      uniqueVisitorsMethod: UniqueVisitorsMethod.UNIQUE_VISITORS_METHOD_ESTIMATED,
      daily: [
        { date: '2026-11-24', visits: '0', uniqueVisitors: '0' },
        { date: '2026-11-25', visits: '3', uniqueVisitors: '2' },
        { date: '2026-11-26', visits: '1', uniqueVisitors: '1' },
      ],
      referrers: [
        { value: 'news.example.com', count: '3' },
        { value: '', count: '1' },
      ],
      browsers: [
        { value: 'Chrome', count: '3' },
        { value: 'Firefox', count: '1' },
      ],
      operatingSystems: [
        { value: 'Windows', count: '3' },
        { value: 'Linux', count: '1' },
      ],
      devices: [{ value: 'desktop', count: '4' }],
      languages: [
        { value: 'en', count: '3' },
        { value: 'de', count: '1' },
      ],
    });
    const withBots = await ask({ includeBots: true, breakdownLimit: 1 });
    expect(withBots.total).toBe('5');
    expect(withBots.devices).toEqual([{ value: 'desktop', count: '4' }]);
    expect((await ask({ includeBots: true })).devices).toContainEqual({ value: 'bot', count: '1' });
    const oneDay = await ask({ fromDate: '2026-11-25', toDate: '2026-11-25' });
    expect(oneDay).toMatchObject({ total: '3', uniqueVisitors: '2' });
    expect(oneDay.uniqueVisitorsMethod).toBe(UniqueVisitorsMethod.UNIQUE_VISITORS_METHOD_ESTIMATED);

    // Stats never read the raw visits: with them gone, the answer is the same.
    const orm = await openDatabase({
      url: services.analyticsDatabaseUrl,
      schema: analyticsSchema,
      log: testLog,
    });
    try {
      await orm.em.fork().execute('delete from `visits` where `link_id` = ?', [link.id]);
    } finally {
      await orm.close();
    }
    expect(await ask()).toEqual(humans);

    const backwards = await ask({ fromDate: '2026-11-26', toDate: '2026-11-24' }).catch(
      (e: unknown) => e,
    );
    expect(backwards).toMatchObject({ kind: 'invalid', code: 'invalid_date_range' });
  });

  test('when a guest’s three links have a few visits and another’s has 10,000, then the guest’s own top list shows all three and the global one leads with the busy link', async () => {
    const guest = aGuest();
    const other = aGuest();
    const mine = [
      await createLink(guest, 'one'),
      await createLink(guest, 'two'),
      await createLink(guest, 'three'),
    ];
    const busy = await createLink(other, 'busy');
    const now = new Date(NOW);
    const clicks = [
      ...Array.from({ length: 1 }, () => clickOn(mine[0] ?? busy, now)),
      ...Array.from({ length: 5 }, () => clickOn(mine[1] ?? busy, now)),
      ...Array.from({ length: 3 }, () => clickOn(mine[2] ?? busy, now)),
      ...Array.from({ length: 10_000 }, () => clickOn(busy, now)),
      clickOn(mine[0] ?? busy, now, { userAgent: GOOGLEBOT }),
    ];
    expect(await services.consumers.ranking.record(clicks)).toBe(10_009);
    expect(await services.consumers.ranking.record(clicks)).toBe(0);

    const own = await analytics.getTopLinks({
      caller: guest,
      window: TopLinksWindow.TOP_LINKS_WINDOW_5M,
      limit: 3,
      scope: TopLinksScope.TOP_LINKS_SCOPE_CALLER,
    });
    expect(own.window).toBe(TopLinksWindow.TOP_LINKS_WINDOW_5M);
    expect(own.links).toEqual([
      { linkId: mine[1]?.id, code: mine[1]?.code, visits: '5' },
      { linkId: mine[2]?.id, code: mine[2]?.code, visits: '3' },
      { linkId: mine[0]?.id, code: mine[0]?.code, visits: '1' },
    ]);
    const global = await analytics.getTopLinks({
      caller: undefined,
      window: TopLinksWindow.TOP_LINKS_WINDOW_24H,
      limit: 1,
      scope: TopLinksScope.TOP_LINKS_SCOPE_ALL,
    });
    expect(global.links).toEqual([{ linkId: busy.id, code: busy.code, visits: '10000' }]);

    const noScope = await analytics
      .getTopLinks({
        caller: guest,
        window: TopLinksWindow.TOP_LINKS_WINDOW_1H,
        limit: 0,
        scope: 0,
      })
      .catch((e: unknown) => e);
    expect(noScope).toMatchObject({ kind: 'invalid', code: 'invalid_top_scope' });
  });

  test('when a member adopts a guest’s link, then from that moment the member sees its stats and ranking, and the guest gets NOT_FOUND', async () => {
    const guest = aGuest();
    const member: Principal = {
      id: String(++nextPrincipal),
      kind: PrincipalKind.PRINCIPAL_KIND_MEMBER,
    };
    const link = await createLink(guest, 'adopted');
    const now = new Date(NOW);
    await services.consumers.visits.record([clickOn(link, now), clickOn(link, now)]);
    await services.consumers.ranking.record([clickOn(link, now), clickOn(link, now)]);
    const stats = (caller: Principal) =>
      analytics.getLinkStats({
        caller,
        code: link.code,
        fromDate: '2026-11-26',
        toDate: '2026-11-26',
        includeBots: false,
        breakdownLimit: 0,
      });
    const topOf = (caller: Principal) =>
      analytics.getTopLinks({
        caller,
        window: TopLinksWindow.TOP_LINKS_WINDOW_1H,
        limit: 10,
        scope: TopLinksScope.TOP_LINKS_SCOPE_CALLER,
      });
    expect((await stats(guest)).total).toBe('2');
    expect((await topOf(guest)).links).toEqual([{ linkId: link.id, code: link.code, visits: '2' }]);

    // What sign-up does to a guest's links: the link service's owner changes, the clicks' owner id does not.
    const orm = await openDatabase({
      url: services.linkDatabaseUrl,
      schema: linkSchema,
      log: testLog,
    });
    try {
      await orm.em
        .fork()
        .execute('update `links` set `owner_id` = ? where `id` = ?', [member.id, link.id]);
    } finally {
      await orm.close();
    }
    expect((await stats(member)).total).toBe('2');
    await expect(stats(guest)).rejects.toMatchObject({
      kind: 'not_found',
      code: 'analytics_link_not_found',
    });
    // The member's ranking is asked of link afresh (the guest's answer is shared for a second at most).
    expect((await topOf(member)).links).toEqual([
      { linkId: link.id, code: link.code, visits: '2' },
    ]);
  });

  test('when a request is malformed, then INVALID_ARGUMENT naming the field, before anything is looked up', async () => {
    const owner = aGuest();
    const bytes = await sendRaw(
      services.analytics.address,
      '/shortener.v1.AnalyticsService/GetLinkStats',
      Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]),
    );
    expect(bytes.error?.code).toBe(status.INVALID_ARGUMENT);
    const cases = [
      { request: { pageSize: 101, pageToken: '' }, field: 'page_size' },
      { request: { pageSize: 0, pageToken: 'bm90LWEtY3Vyc29y' }, field: 'page_token' },
    ];
    for (const { request, field } of cases) {
      const answer = await outcome((callback) =>
        raw.listVisits({ caller: owner, code: 'abc1234', ...request }, callback),
      );
      expect(answer.error?.code, field).toBe(status.INVALID_ARGUMENT);
      expect(trailer(answer.error, 'error-field')).toBe(field);
    }
    const window = await outcome((callback) =>
      raw.getTopLinks(
        { caller: owner, window: 0, limit: 0, scope: TopLinksScope.TOP_LINKS_SCOPE_CALLER },
        callback,
      ),
    );
    expect(trailer(window.error, 'error-code')).toBe('invalid_top_window');
  });

  test('when a burst of readers asks for the same ranking, then it is computed once', async () => {
    const guest = aGuest();
    const link = await createLink(guest, 'burst');
    const memory = new MemoryRanking({ dedupHorizonMs: 15 * 60_000 });
    let computations = 0;
    const counting: Ranking = {
      record: (clicks) => memory.record(clicks),
      top: (window, limit) => {
        computations++;
        return memory.top(window, limit);
      },
      visitsOf: (window, links) => {
        computations++;
        return memory.visitsOf(window, links);
      },
    };
    await memory.record([{ eventId: '1', linkId: link.id, code: link.code, at: Date.now() }]);
    const links = new LinkServiceOwnedLinks(dialable(services.link.address), 2_000);
    try {
      const top = new TopLinks({ ranking: counting, links, cacheTtlMs: 1_000, now: Date.now });
      const answers = await Promise.all(
        Array.from({ length: 50 }, () =>
          top.top({ kind: 'caller', caller: { id: guest.id, kind: 'guest' } }, '1h', 10),
        ),
      );
      expect(computations).toBe(1);
      for (const answer of answers)
        expect(answer).toEqual([{ linkId: link.id, code: link.code, visits: 1 }]);
      await Promise.all(Array.from({ length: 50 }, () => top.top({ kind: 'all' }, '1h', 5)));
      expect(computations).toBe(2);
    } finally {
      links.close();
    }
  });
});
