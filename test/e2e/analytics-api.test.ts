// What an owner sees of their links over HTTP once clicks have flowed through
// the mesh (redirect → bus → analytics): each visit with the client's details,
// a page at a time; stats per day with breakdowns; their own links ranked
// live. Nobody else sees any of it, not even whether the code exists.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type RunningGateway, startGateway } from '../../gateway/main.ts';
import { dialable } from '../../lib/config/parsers.ts';
import { type Answer, call, newGuest, shorten } from '../support/http.ts';
import { testObservers } from '../support/infrastructure.ts';
import { testLog } from '../support/logger.ts';
import { MESH_FLAVOURS, meshForSuite } from '../support/mesh.ts';
import { expectProblem } from '../support/problems.ts';
import { within } from '../support/wait.ts';

const FIREFOX_ON_WINDOWS =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0';
const CHROME_ON_LINUX =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36';
const GOOGLEBOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';

interface VisitJson {
  id: string;
  visitedAt: string;
  ip: string | null;
  userAgent: string | null;
  referer: string | null;
  acceptLanguage: string | null;
  browser: string | null;
  os: string | null;
  device: string | null;
  bot: boolean;
}
interface Entry {
  value: string | null;
  count: number;
}
interface StatsJson {
  from: string;
  to: string;
  total: number;
  uniqueVisitors: number;
  uniqueVisitorsMethod: string;
  daily: { date: string; visits: number; uniqueVisitors: number }[];
  referrers: Entry[];
  browsers: Entry[];
  operatingSystems: Entry[];
  devices: Entry[];
  languages: Entry[];
}
interface TopJson {
  window: string;
  links: { code: string; shortUrl: string; visits: number }[];
}

const today = () => new Date().toISOString().slice(0, 10);
const daysAgo = (days: number) =>
  new Date(Date.now() - days * 86_400_000).toISOString().slice(0, 10);

/** Follows a short link as a browser would, with these request headers. */
async function visit(base: string, code: string, headers: Record<string, string> = {}) {
  const answer = await fetch(`${base}/${code}`, { redirect: 'manual', headers });
  await answer.arrayBuffer();
  return answer.status;
}

/** `count` visits by a browser (bots are not ranked), `parallel` at a time; every one must redirect. */
async function visits(base: string, code: string, count: number, parallel = 50) {
  const browser = { 'user-agent': CHROME_ON_LINUX };
  for (let i = 0; i < count; i += parallel) {
    const wave = Array.from({ length: Math.min(parallel, count - i) }, () =>
      visit(base, code, browser),
    );
    expect(new Set(await Promise.all(wave))).toEqual(new Set([302]));
  }
}

describe.each(MESH_FLAVOURS)('the analytics API (%s)', (flavour) => {
  const mesh = meshForSuite(flavour);
  let token: string;
  /** As the suite's guest unless told whose token to send (null: none). */
  const get = (path: string, as: string | null = token) =>
    call(mesh.url, 'GET', path, as === null ? {} : { token: as });
  const body = <T>(answer: Answer) => answer.body as unknown as T;
  const statsOf = async (code: string, query = '') =>
    body<StatsJson>(await get(`/api/v1/links/${code}/stats${query}`));
  const newLink = async (owner: string, name: string) => {
    const made = await shorten(mesh.url, owner, `https://example.com/analytics/${name}`);
    expect(made.status).toBe(201);
    return made.body.code;
  };

  beforeAll(async () => {
    token = await newGuest(mesh.url);
  });

  test('when a link is followed with chosen headers, then its owner sees each visit with them, newest first, a page at a time', async () => {
    const code = await newLink(token, 'visits');
    for (let i = 1; i <= 5; i++) {
      const status = await visit(mesh.url, code, {
        'user-agent': FIREFOX_ON_WINDOWS,
        referer: `https://blog.example/post/${i}`,
        'accept-language': 'fr-CH, fr;q=0.9, en;q=0.8',
      });
      expect(status).toBe(302);
    }
    await within(30_000, async () => {
      const all = await get(`/api/v1/links/${code}/visits?pageSize=100`);
      return body<{ visits: VisitJson[] }>(all).visits.length === 5;
    });

    const seen: VisitJson[] = [];
    const tokens: (string | null)[] = [];
    let pageToken = '';
    do {
      const query = `pageSize=2${pageToken ? `&pageToken=${encodeURIComponent(pageToken)}` : ''}`;
      const page = await get(`/api/v1/links/${code}/visits?${query}`);
      expect(page.status).toBe(200);
      const { visits: onPage, nextPageToken } = body<{
        visits: VisitJson[];
        nextPageToken: string | null;
      }>(page);
      seen.push(...onPage);
      tokens.push(nextPageToken);
      pageToken = nextPageToken ?? '';
    } while (pageToken);

    expect(seen.map((v) => v.referer)).toEqual(
      [5, 4, 3, 2, 1].map((i) => `https://blog.example/post/${i}`),
    );
    expect(tokens.map((t) => typeof t)).toEqual(['string', 'string', 'object']);
    expect(tokens.at(-1)).toBeNull();
    expect(new Set(seen.map((v) => v.id)).size).toBe(5);
    for (const seenVisit of seen) {
      expect(seenVisit).toEqual({
        id: expect.stringMatching(/^\d{1,20}$/),
        visitedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        // Anonymised: loopback keeps its /24.
        ip: '127.0.0.0',
        userAgent: FIREFOX_ON_WINDOWS,
        referer: expect.stringMatching(/^https:\/\/blog\.example\/post\/\d$/),
        acceptLanguage: 'fr-CH, fr;q=0.9, en;q=0.8',
        browser: 'Firefox',
        os: 'Windows',
        device: 'desktop',
        bot: false,
      });
    }
    const times = seen.map((v) => Date.parse(v.visitedAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));
  });

  test('when people and a bot visit a link, then its stats count visits, days and breakdowns, and bots only when asked', async () => {
    const code = await newLink(token, 'stats');
    const chrome = {
      'user-agent': CHROME_ON_LINUX,
      referer: 'https://News.Example/item?id=1',
      'accept-language': 'de-CH,de;q=0.9',
    };
    const firefox = { 'user-agent': FIREFOX_ON_WINDOWS, 'accept-language': 'en-US' };
    for (const headers of [chrome, chrome, chrome, firefox, firefox, { 'user-agent': GOOGLEBOT }]) {
      expect(await visit(mesh.url, code, headers)).toBe(302);
    }
    await within(30_000, async () => (await statsOf(code, '?includeBots=true')).total === 6);

    const stats = await statsOf(code);
    expect(stats).toMatchObject({
      from: daysAgo(29),
      to: today(),
      total: 5,
      // The same address with two user agents: two visitors today.
      uniqueVisitors: 2,
      uniqueVisitorsMethod: 'estimated',
      referrers: [
        { value: 'news.example', count: 3 },
        { value: null, count: 2 },
      ],
      browsers: [
        { value: 'Chrome', count: 3 },
        { value: 'Firefox', count: 2 },
      ],
      operatingSystems: [
        { value: 'Linux', count: 3 },
        { value: 'Windows', count: 2 },
      ],
      devices: [{ value: 'desktop', count: 5 }],
      languages: [
        { value: 'de', count: 3 },
        { value: 'en', count: 2 },
      ],
    });
    expect(stats.daily).toHaveLength(30);
    expect(stats.daily.at(-1)).toEqual({ date: today(), visits: 5, uniqueVisitors: 2 });
    expect(stats.daily.slice(0, -1).every((day) => day.visits === 0)).toBe(true);

    const oneDay = await statsOf(code, `?from=${today()}&to=${today()}`);
    expect(oneDay).toMatchObject({ total: 5, uniqueVisitors: 2 });
    expect(oneDay.uniqueVisitorsMethod).toBe('estimated');
    expect(oneDay.daily).toEqual([{ date: today(), visits: 5, uniqueVisitors: 2 }]);

    const withBots = await statsOf(code, '?includeBots=true&breakdownLimit=1');
    expect(withBots).toMatchObject({ total: 6, uniqueVisitors: 3 });
    expect(withBots.browsers).toEqual([{ value: 'Chrome', count: 3 }]);

    const before = await statsOf(code, `?from=${daysAgo(10)}&to=${daysAgo(1)}`);
    expect(before).toMatchObject({ total: 0, uniqueVisitors: 0, referrers: [], browsers: [] });
    expect(before.daily).toHaveLength(10);
  });

  test("when a guest asks for another guest's link's visits or stats, then 404 with the same body as for a code nobody has", async () => {
    const other = await newGuest(mesh.url);
    const theirs = await newLink(other, 'theirs');
    expect(await visit(mesh.url, theirs)).toBe(302);
    for (const what of ['visits', 'stats']) {
      const foreign = await get(`/api/v1/links/${theirs}/${what}`);
      const unknown = await get(`/api/v1/links/NoSuch42/${what}`);
      expectProblem(foreign, 404, { code: 'analytics_link_not_found', label: what });
      expect(foreign.body, what).toEqual(unknown.body);
      // The owner does see it.
      expect((await get(`/api/v1/links/${theirs}/${what}`, other)).status, what).toBe(200);
    }
  });

  test('when no token is sent, then visits, stats and top answer 401', async () => {
    const code = await newLink(token, 'anonymous');
    for (const path of [
      `/api/v1/links/${code}/visits`,
      `/api/v1/links/${code}/stats`,
      '/api/v1/top',
    ]) {
      const answer = await get(path, null);
      expectProblem(answer, 401, { code: 'missing_token', label: path });
      expect(answer.headers.get('www-authenticate'), path).toBe('Bearer');
    }
  });

  test('when a query value is not acceptable, then 400 naming the field as the query spells it', async () => {
    const code = await newLink(token, 'bad-queries');
    const cases: [string, string][] = [
      ['/api/v1/top?window=2h', 'window'],
      ['/api/v1/top?window=', 'window'],
      ['/api/v1/top?limit=0', 'limit'],
      ['/api/v1/top?limit=101', 'limit'],
      ['/api/v1/top?limit=ten', 'limit'],
      [`/api/v1/links/${code}/stats?from=2026-13-01`, 'from'],
      [`/api/v1/links/${code}/stats?from=2026-02-30`, 'from'],
      [`/api/v1/links/${code}/stats?to=01.12.2026`, 'to'],
      [`/api/v1/links/${code}/stats?from=${today()}&to=${daysAgo(1)}`, 'from'],
      [`/api/v1/links/${code}/stats?from=${daysAgo(400)}&to=${today()}`, 'from'],
      [`/api/v1/links/${code}/stats?includeBots=maybe`, 'includeBots'],
      [`/api/v1/links/${code}/stats?breakdownLimit=0`, 'breakdownLimit'],
      [`/api/v1/links/${code}/visits?pageSize=0`, 'pageSize'],
      [`/api/v1/links/${code}/visits?pageSize=101`, 'pageSize'],
      [`/api/v1/links/${code}/visits?pageToken=not-a-token`, 'pageToken'],
      ['/api/v1/links/no%20such/visits', 'code'],
    ];
    for (const [path, field] of cases) {
      const answer = await get(path);
      expectProblem(answer, 400, { field, label: path });
      expect(answer.body.detail, path).not.toMatch(
        /from_date|to_date|include_bots|breakdown_limit/,
      );
    }
    const unknown = await get(`/api/v1/links/${code}/stats?since=${today()}`);
    expectProblem(unknown, 400, { code: 'invalid_request' });
  });

  test("a guest with three links of 1–5 clicks each sees all three in its top list while another guest's link has 10,000 clicks (the own-links ranking is not a filter over the global top list)", async () => {
    const popular = await newGuest(mesh.url);
    const hit = await newLink(popular, 'hit');
    const modest = await newGuest(mesh.url);
    const mine = [
      await newLink(modest, 'one'),
      await newLink(modest, 'three'),
      await newLink(modest, 'five'),
    ];
    await visits(mesh.url, hit, 10_000);
    for (const [i, clicks] of [1, 3, 5].entries())
      await visits(mesh.url, mine[i] as string, clicks);

    const topOf = async (owner: string, query: string) =>
      body<TopJson>(await get(`/api/v1/top${query}`, owner));
    let last: unknown;
    await within(60_000, async () => {
      const [theirs, ours] = await Promise.all([topOf(popular, ''), topOf(modest, '')]);
      last = { theirs, ours };
      return theirs.links[0]?.visits === 10_000 && ours.links.length === 3;
    }).catch((error: unknown) => {
      throw new Error(`top lists never settled: ${JSON.stringify(last)}`, { cause: error });
    });

    const [one, three, five] = mine as [string, string, string];
    const ours = await topOf(modest, '?window=1h');
    expect(ours).toEqual({
      window: '1h',
      links: [
        { code: five, shortUrl: `${mesh.config.gateway.publicBaseUrl}/${five}`, visits: 5 },
        { code: three, shortUrl: `${mesh.config.gateway.publicBaseUrl}/${three}`, visits: 3 },
        { code: one, shortUrl: `${mesh.config.gateway.publicBaseUrl}/${one}`, visits: 1 },
      ],
    });
    // Even a list of one is the best of the guest's own, never a slot the hit took.
    expect((await topOf(modest, '?window=5m&limit=1')).links.map((l) => l.code)).toEqual([five]);
    expect((await topOf(modest, '?window=24h')).links.map((l) => l.visits)).toEqual([5, 3, 1]);
    expect((await topOf(popular, '?window=24h')).links).toEqual([
      { code: hit, shortUrl: `${mesh.config.gateway.publicBaseUrl}/${hit}`, visits: 10_000 },
    ]);
  }, 180_000);

  test('when a client reads the OpenAPI document, then it finds the three routes, their queries and answers', async () => {
    const { paths } = (await get('/api/v1/openapi.json', null)).body;
    const operation = (path: string) => paths[path]?.get as Record<string, unknown> | undefined;
    const queryOf = (path: string) =>
      ((operation(path)?.parameters ?? []) as { in: string; name: string }[])
        .filter((p) => p.in === 'query')
        .map((p) => p.name)
        .sort();
    expect(queryOf('/api/v1/links/{code}/visits')).toEqual(['pageSize', 'pageToken']);
    expect(queryOf('/api/v1/links/{code}/stats')).toEqual([
      'breakdownLimit',
      'from',
      'includeBots',
      'to',
    ]);
    expect(queryOf('/api/v1/top')).toEqual(['limit', 'window']);
    for (const path of [
      '/api/v1/links/{code}/visits',
      '/api/v1/links/{code}/stats',
      '/api/v1/top',
    ]) {
      expect(operation(path)?.security, path).toEqual([{ bearer: [] }]);
      const statuses = Object.keys(operation(path)?.responses as object);
      expect(statuses, path).toEqual(expect.arrayContaining(['200', '400', '401', '503']));
      if (path !== '/api/v1/top') expect(statuses, path).toContain('404');
    }
  });

  describe('when analytics is unreachable', () => {
    let gateway: RunningGateway;
    beforeAll(async () => {
      gateway = await startGateway(
        {
          ...mesh.config.gateway,
          listen: '127.0.0.1:0',
          linkTarget: dialable(mesh.mesh.link.address),
          identityTarget: dialable(mesh.mesh.identity.address),
          // Nothing listens on port 1.
          analyticsTarget: '127.0.0.1:1',
          clicks: { ...mesh.config.gateway.clicks, record: false },
        },
        mesh.config,
        testLog,
        { shared: mesh.mesh.shared, bus: mesh.mesh.bus, ...testObservers(mesh.mesh.bus) },
      );
    });
    afterAll(() => gateway?.stop());

    test('then visits, stats and top answer 503 at once, and redirects still work', async () => {
      const code = await newLink(token, 'no-analytics');
      for (const path of [
        `/api/v1/links/${code}/visits`,
        `/api/v1/links/${code}/stats`,
        '/api/v1/top',
      ]) {
        const started = performance.now();
        const answer = await call(gateway.url, 'GET', path, { token });
        expect(performance.now() - started, path).toBeLessThan(1_500);
        expectProblem(answer, 503, { label: path });
        expect(answer.headers.get('retry-after'), path).toBe('1');
      }
      expect(await visit(gateway.url, code)).toBe(302);
    });
  });
});
