// AnalyticsService over gRPC: decode, call the domain, encode. Nothing else.
import {
  type AnalyticsServiceServer,
  AnalyticsServiceService,
  type GetLinkStatsResponse,
  TopLinksScope,
  TopLinksWindow,
  UniqueVisitorsMethod,
  type Visit as VisitMessage,
} from '../../gen/shortener/v1/analytics.ts';
import type { Principal } from '../../gen/shortener/v1/principal.ts';
import { callerOf } from '../../lib/callers.ts';
import { unary } from '../../lib/grpc/handlers.ts';
import type { ServiceBinding } from '../../lib/grpc/server.ts';
import type { Logger } from '../../lib/log.ts';
import type { Visit } from './domain/click.ts';
import { type LinkStats, type LinkStatsDeps, linkStats, listVisits } from './domain/link-stats.ts';
import type { TopLinks, TopScope } from './domain/top-links.ts';
import { analyticsErrors } from './errors.ts';
import type { RankingWindow } from './ranking/ranking.ts';

export interface AnalyticsHandlerDeps {
  stats: LinkStatsDeps;
  topLinks: TopLinks;
}

const WINDOWS = new Map<TopLinksWindow, RankingWindow>([
  [TopLinksWindow.TOP_LINKS_WINDOW_5M, '5m'],
  [TopLinksWindow.TOP_LINKS_WINDOW_1H, '1h'],
  [TopLinksWindow.TOP_LINKS_WINDOW_24H, '24h'],
]);

function windowOf(window: TopLinksWindow): RankingWindow {
  const name = WINDOWS.get(window);
  if (!name) throw analyticsErrors.invalid_top_window();
  return name;
}

function scopeOf(scope: TopLinksScope, principal: Principal | undefined): TopScope {
  if (scope === TopLinksScope.TOP_LINKS_SCOPE_ALL) return { kind: 'all' };
  if (scope === TopLinksScope.TOP_LINKS_SCOPE_CALLER) {
    return { kind: 'caller', caller: callerOf(principal) };
  }
  throw analyticsErrors.invalid_top_scope();
}

function toMessage(visit: Visit): VisitMessage {
  return {
    id: visit.id,
    visitedAt: visit.visitedAt,
    ip: visit.ip,
    userAgent: visit.userAgent,
    referer: visit.referer,
    acceptLanguage: visit.acceptLanguage,
    browser: visit.browser,
    os: visit.os,
    device: visit.device,
    bot: visit.bot,
  };
}

function toStatsMessage(stats: LinkStats): GetLinkStatsResponse {
  return {
    fromDate: stats.from,
    toDate: stats.to,
    total: String(stats.total),
    uniqueVisitors: String(stats.uniqueVisitors),
    uniqueVisitorsMethod: UniqueVisitorsMethod.UNIQUE_VISITORS_METHOD_ESTIMATED,
    daily: stats.daily.map((day) => ({
      date: day.date,
      visits: String(day.visits),
      uniqueVisitors: String(day.uniqueVisitors),
    })),
    referrers: stats.referrers.map(toEntry),
    browsers: stats.browsers.map(toEntry),
    operatingSystems: stats.operatingSystems.map(toEntry),
    devices: stats.devices.map(toEntry),
    languages: stats.languages.map(toEntry),
  };
}

const toEntry = (entry: { value: string; count: number }) => ({
  value: entry.value,
  count: String(entry.count),
});

export function analyticsServiceBinding(deps: AnalyticsHandlerDeps, log: Logger): ServiceBinding {
  const implementation: AnalyticsServiceServer = {
    listVisits: unary('ListVisits', log, async (request, context) => {
      const page = await listVisits(
        deps.stats,
        callerOf(request.caller),
        request,
        context.deadline,
      );
      return { visits: page.visits.map(toMessage), nextPageToken: page.nextPageToken };
    }),

    getLinkStats: unary('GetLinkStats', log, async (request, context) =>
      toStatsMessage(
        await linkStats(deps.stats, callerOf(request.caller), request, context.deadline),
      ),
    ),

    getTopLinks: unary('GetTopLinks', log, async (request, context) => {
      const window = windowOf(request.window);
      const links = await deps.topLinks.top(
        scopeOf(request.scope, request.caller),
        window,
        request.limit,
        context.deadline,
      );
      return {
        window: request.window,
        links: links.map((link) => ({
          linkId: link.linkId,
          code: link.code,
          visits: String(link.visits),
        })),
      };
    }),
  };
  return {
    name: 'shortener.v1.AnalyticsService',
    definition: AnalyticsServiceService,
    implementation,
  };
}
