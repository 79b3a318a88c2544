// What happened to the caller's links: each link's visits and statistics, and
// the caller's own links ranked by recent visits. Analytics decides, asking
// link at the time of the request, whether the caller owns a link; anyone
// else gets the same 404 as for a code nobody has. The ranking across every
// link is for internal callers over gRPC only: it would show other people's links.
import '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import {
  type BreakdownEntry,
  type GetLinkStatsResponse,
  TopLinksScope,
  TopLinksWindow,
  UniqueVisitorsMethod,
  type Visit,
} from '../../gen/shortener/v1/analytics.ts';
import { BEARER, principalOf } from '../auth.ts';
import type { ServiceClients } from '../grpc-clients.ts';
import { problemResponse } from '../problems.ts';

const security = BEARER;
const authErrors = {
  401: problemResponse('No bearer token, or it is invalid, revoked or expired'),
  503: problemResponse('A service the gateway depends on is unreachable'),
};
const notYours = problemResponse(
  "No link of yours has this code: none has it, it was deleted, or it is someone else's",
);

/** Text analytics may not know; null then, as everywhere in this API. */
const Known = (description: string) =>
  Type.Union([Type.String(), Type.Null()], { description: `${description}; null if unknown` });
const known = (text: string) => text || null;

const VisitJson = Type.Object({
  id: Type.String({ description: 'Id of the click (64-bit, as a decimal string)' }),
  visitedAt: Type.String({ format: 'date-time' }),
  ip: Known('Client address, anonymised (by default to its /24 or /48)'),
  userAgent: Known('The User-Agent header, at most 512 characters'),
  referer: Known('The Referer header, at most 2048 characters'),
  acceptLanguage: Known('The Accept-Language header'),
  browser: Known('Browser parsed from the user agent, e.g. Chrome'),
  os: Known('Operating system parsed from the user agent, e.g. Windows'),
  device: Known('desktop, mobile, tablet, tv or bot'),
  bot: Type.Boolean({ description: 'A known bot or crawler, or no User-Agent at all' }),
});

const Day = (description = 'A UTC day') =>
  Type.String({ format: 'date', description: `${description}, YYYY-MM-DD` });

const Breakdown = (description: string) =>
  Type.Array(
    Type.Object({
      value: Type.Union([Type.String(), Type.Null()]),
      count: Type.Integer({ description: 'Visits with this value in the range' }),
    }),
    { description: `${description}, most visits first` },
  );

const METHODS = {
  [UniqueVisitorsMethod.UNIQUE_VISITORS_METHOD_DISTINCT_PER_DAY]: 'distinct_per_day',
  [UniqueVisitorsMethod.UNIQUE_VISITORS_METHOD_SUM_OF_DAILY]: 'sum_of_daily',
  [UniqueVisitorsMethod.UNIQUE_VISITORS_METHOD_ESTIMATED]: 'estimated',
} as const;

const StatsJson = Type.Object({
  from: Day('First day of the range'),
  to: Day('Last day of the range, included'),
  total: Type.Integer({ description: 'Visits in the range' }),
  uniqueVisitors: Type.Integer({ description: 'Counted as uniqueVisitorsMethod says' }),
  uniqueVisitorsMethod: Type.Enum(Object.values(METHODS), {
    description:
      'estimated: distinct visitors over the whole range, one who came on several days ' +
      "counted once, estimated from each day's HyperLogLog sketch (standard error about " +
      '1.6%, exact in practice below a few hundred); distinct_per_day and sum_of_daily ' +
      'are no longer sent',
  }),
  daily: Type.Array(
    Type.Object({
      date: Day(),
      visits: Type.Integer(),
      uniqueVisitors: Type.Integer(),
    }),
    { description: 'Every day of the range, oldest first, days without visits included' },
  ),
  referrers: Breakdown('Referring hosts; null for direct visits (no Referer)'),
  browsers: Breakdown('Browsers; null if unknown'),
  operatingSystems: Breakdown('Operating systems; null if unknown'),
  devices: Breakdown('Device types; null if unknown'),
  languages: Breakdown("Primary language of Accept-Language's first choice; null if none"),
});

const WINDOWS = {
  '5m': TopLinksWindow.TOP_LINKS_WINDOW_5M,
  '1h': TopLinksWindow.TOP_LINKS_WINDOW_1H,
  '24h': TopLinksWindow.TOP_LINKS_WINDOW_24H,
} as const;
type WindowName = keyof typeof WINDOWS;

const CodeParams = Type.Object({ code: Type.String({ description: 'The short code' }) });

const VisitsQuery = Type.Object(
  {
    pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
    pageToken: Type.Optional(
      Type.String({ maxLength: 64, description: 'nextPageToken of the previous page, as it was' }),
    ),
  },
  { additionalProperties: false },
);

const StatsQuery = Type.Object(
  {
    from: Type.Optional(Day('First UTC day; by default 29 days before `to`')),
    to: Type.Optional(Day('Last UTC day, included; by default today')),
    includeBots: Type.Optional(
      Type.Boolean({ default: false, description: 'Count visits by bots too' }),
    ),
    breakdownLimit: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 100, default: 10, description: 'Entries per breakdown' }),
    ),
  },
  { additionalProperties: false },
);

const TopQuery = Type.Object(
  {
    window: Type.Optional(
      Type.Enum(Object.keys(WINDOWS) as WindowName[], {
        default: '1h',
        description: 'The last 5 minutes, hour or day',
      }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 10 })),
  },
  { additionalProperties: false },
);

/** Analytics names the stats range as the proto does; this API as its query spells it. */
const RANGE_FIELDS = { from_date: 'from', to_date: 'to' };

const visitJson = (visit: Visit) => {
  if (!visit.visitedAt) throw new Error('analytics answered a visit without visitedAt');
  return {
    id: visit.id,
    visitedAt: visit.visitedAt.toISOString(),
    ip: known(visit.ip),
    userAgent: known(visit.userAgent),
    referer: known(visit.referer),
    acceptLanguage: known(visit.acceptLanguage),
    browser: known(visit.browser),
    os: known(visit.os),
    device: known(visit.device),
    bot: visit.bot,
  };
};

const entryJson = (entry: BreakdownEntry) => ({
  value: known(entry.value),
  count: Number(entry.count),
});

function statsJson(stats: GetLinkStatsResponse) {
  const method = METHODS[stats.uniqueVisitorsMethod as keyof typeof METHODS];
  if (!method) throw new Error('analytics answered stats without a uniqueVisitorsMethod');
  return {
    from: stats.fromDate,
    to: stats.toDate,
    total: Number(stats.total),
    uniqueVisitors: Number(stats.uniqueVisitors),
    uniqueVisitorsMethod: method,
    daily: stats.daily.map((day) => ({
      date: day.date,
      visits: Number(day.visits),
      uniqueVisitors: Number(day.uniqueVisitors),
    })),
    referrers: stats.referrers.map(entryJson),
    browsers: stats.browsers.map(entryJson),
    operatingSystems: stats.operatingSystems.map(entryJson),
    devices: stats.devices.map(entryJson),
    languages: stats.languages.map(entryJson),
  };
}

export function analyticsRoutes(
  app: FastifyInstance,
  clients: ServiceClients,
  publicBaseUrl: string,
): void {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();

  api.get(
    '/api/v1/links/:code/visits',
    {
      schema: {
        summary: 'List the visits of one of your links',
        description: 'Newest first, a page at a time; visits by bots are included and flagged.',
        tags: ['analytics'],
        security,
        params: CodeParams,
        querystring: VisitsQuery,
        response: {
          200: Type.Object({
            visits: Type.Array(VisitJson),
            nextPageToken: Type.Union([Type.String(), Type.Null()], {
              description: 'Pass as pageToken for the next page; null on the last page',
            }),
          }),
          400: problemResponse('The code or a query parameter is not acceptable'),
          404: notYours,
          ...authErrors,
        },
      },
    },
    async (request) => {
      const page = await clients.analytics.listVisits({
        caller: principalOf(request),
        code: request.params.code,
        pageSize: request.query.pageSize ?? 20,
        pageToken: request.query.pageToken ?? '',
      });
      return { visits: page.visits.map(visitJson), nextPageToken: page.nextPageToken || null };
    },
  );

  api.get(
    '/api/v1/links/:code/stats',
    {
      config: { fieldSpellings: RANGE_FIELDS },
      schema: {
        summary: 'Statistics of one of your links',
        description:
          'Totals, a per-day series and breakdowns over a range of UTC days (at most 366; by ' +
          'default the last 30), from daily rollups. Bots are left out unless includeBots is set.',
        tags: ['analytics'],
        security,
        params: CodeParams,
        querystring: StatsQuery,
        response: {
          200: StatsJson,
          400: problemResponse(
            'The code or a query parameter is not acceptable, or the range is empty or too long',
          ),
          404: notYours,
          ...authErrors,
        },
      },
    },
    async (request) => {
      const stats = await clients.analytics.getLinkStats({
        caller: principalOf(request),
        code: request.params.code,
        fromDate: request.query.from ?? '',
        toDate: request.query.to ?? '',
        includeBots: request.query.includeBots ?? false,
        breakdownLimit: request.query.breakdownLimit ?? 10,
      });
      return statsJson(stats);
    },
  );

  api.get(
    '/api/v1/top',
    {
      schema: {
        summary: 'Your most visited links, live',
        description:
          'Your own links ranked among themselves by visits in the last 5 minutes, hour or day ' +
          '(to within one time bucket: 1 minute, 5 minutes, 1 hour), bots not counted; links ' +
          'without visits in the window are left out. Refreshed about once a second.',
        tags: ['analytics'],
        security,
        querystring: TopQuery,
        response: {
          200: Type.Object({
            window: Type.Enum(Object.keys(WINDOWS) as WindowName[]),
            links: Type.Array(
              Type.Object({
                code: Type.String(),
                shortUrl: Type.String(),
                visits: Type.Integer({ description: 'Visits in the window' }),
              }),
              { description: 'Most visits first' },
            ),
          }),
          400: problemResponse('A query parameter is not acceptable'),
          ...authErrors,
        },
      },
    },
    async (request) => {
      const window = request.query.window ?? '1h';
      const top = await clients.analytics.getTopLinks({
        caller: principalOf(request),
        window: WINDOWS[window],
        limit: request.query.limit ?? 10,
        scope: TopLinksScope.TOP_LINKS_SCOPE_CALLER,
      });
      return {
        window,
        links: top.links.map((link) => ({
          code: link.code,
          shortUrl: `${publicBaseUrl}/${link.code}`,
          visits: Number(link.visits),
        })),
      };
    },
  );
}
