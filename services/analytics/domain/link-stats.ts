// What an owner may read about one of their links: its visits, a page at a
// time, and its statistics over a range of days, read from the rollups.
import { CODE_PATTERN } from '../../../lib/short-code-rules.ts';
import { analyticsErrors } from '../errors.ts';
import type { Breakdown, VisitCursor, VisitStore } from '../store/visit-store.ts';
import type { Visit } from './click.ts';
import type { DaySummaries, DaySummary } from './day-summaries.ts';
import { dayOf, formatDay, parseDay } from './days.ts';
import type { Caller, OwnedLinks } from './owned-links.ts';

export interface LinkStatsDeps {
  store: VisitStore;
  links: OwnedLinks;
  /** One per process: sums of whole blocks of days, kept between requests. */
  summaries: DaySummaries;
  now: () => number;
}

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;
export const DEFAULT_RANGE_DAYS = 30;
export const MAX_RANGE_DAYS = 366;
export const DEFAULT_BREAKDOWN_LIMIT = 10;
export const MAX_BREAKDOWN_LIMIT = 100;

async function ownLink(deps: LinkStatsDeps, caller: Caller, code: string, deadline: number) {
  if (!CODE_PATTERN.test(code)) throw analyticsErrors.analytics_invalid_code();
  return deps.links.find(caller, code, deadline);
}

/** Page tokens are opaque to callers: base64url of `<visited at ms>:<event id>` of the page's last visit. */
function decodePageToken(token: string): VisitCursor | null {
  if (!token) return null;
  const match = /^(\d{1,15}):(\d{1,19})$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
  if (!match) throw analyticsErrors.analytics_invalid_page_token();
  return { visitedAt: Number(match[1]), id: String(match[2]) };
}

function encodePageToken(visit: Visit): string {
  return Buffer.from(`${visit.visitedAt.getTime()}:${visit.id}`, 'utf8').toString('base64url');
}

export async function listVisits(
  deps: LinkStatsDeps,
  caller: Caller,
  request: { code: string; pageSize: number; pageToken: string },
  deadline = Number.POSITIVE_INFINITY,
): Promise<{ visits: Visit[]; nextPageToken: string }> {
  const size = request.pageSize === 0 ? DEFAULT_PAGE_SIZE : request.pageSize;
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) {
    throw analyticsErrors.analytics_invalid_page_size({ max: MAX_PAGE_SIZE });
  }
  const cursor = decodePageToken(request.pageToken);
  const link = await ownLink(deps, caller, request.code, deadline);
  const rows = await deps.store.listVisits(link.linkId, cursor, size + 1);
  const visits = rows.slice(0, size);
  const last = visits.at(-1);
  return { visits, nextPageToken: rows.length > size && last ? encodePageToken(last) : '' };
}

export interface StatsRequest {
  code: string;
  /** `YYYY-MM-DD`, or empty for the default. */
  fromDate: string;
  toDate: string;
  includeBots: boolean;
  breakdownLimit: number;
}

export interface Count {
  value: string;
  count: number;
}

export interface LinkStats {
  from: string;
  to: string;
  total: number;
  uniqueVisitors: number;
  /** Distinct visitors over the whole range, estimated from the days' visitor sketches. */
  uniqueVisitorsMethod: 'estimated';
  daily: { date: string; visits: number; uniqueVisitors: number }[];
  referrers: Count[];
  browsers: Count[];
  operatingSystems: Count[];
  devices: Count[];
  languages: Count[];
}

function dayRange(request: StatsRequest, today: number): { from: number; to: number } {
  const parse = (text: string, field: 'from_date' | 'to_date') => {
    const day = parseDay(text);
    if (day === undefined) {
      throw analyticsErrors.invalid_date_range(
        { why: `${field} must be a date written YYYY-MM-DD` },
        { field },
      );
    }
    return day;
  };
  const to = request.toDate ? parse(request.toDate, 'to_date') : today;
  const from = request.fromDate
    ? parse(request.fromDate, 'from_date')
    : to - DEFAULT_RANGE_DAYS + 1;
  if (from > to) {
    throw analyticsErrors.invalid_date_range(
      { why: 'from_date must not be after to_date' },
      { field: 'from_date' },
    );
  }
  if (to - from + 1 > MAX_RANGE_DAYS) {
    throw analyticsErrors.invalid_date_range(
      { why: `the range may span at most ${MAX_RANGE_DAYS} days` },
      { field: 'from_date' },
    );
  }
  return { from, to };
}

function top(summary: DaySummary, dimension: Breakdown, limit: number): Count[] {
  return [...(summary.facets.get(dimension) ?? [])]
    .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, limit)
    .map(([value, count]) => ({ value, count }));
}

export async function linkStats(
  deps: LinkStatsDeps,
  caller: Caller,
  request: StatsRequest,
  deadline = Number.POSITIVE_INFINITY,
): Promise<LinkStats> {
  const limit = request.breakdownLimit === 0 ? DEFAULT_BREAKDOWN_LIMIT : request.breakdownLimit;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_BREAKDOWN_LIMIT) {
    throw analyticsErrors.invalid_breakdown_limit({ max: MAX_BREAKDOWN_LIMIT });
  }
  const range = dayRange(request, dayOf(deps.now()));
  const link = await ownLink(deps, caller, request.code, deadline);
  const days = await deps.store.linkDays(link.linkId, range, request.includeBots);
  const summary = deps.summaries.summarise(link.linkId, request.includeBots, days, range);
  const byDay = new Map<number, { visits: number; visitors: number }>();
  for (const day of days) {
    const counts = byDay.get(day.day) ?? { visits: 0, visitors: 0 };
    // A visitor is a bot or not (the user agent is part of the visitor), never both.
    counts.visits += day.visits;
    counts.visitors += day.visitors;
    byDay.set(day.day, counts);
  }
  const daily = [];
  for (let day = range.from; day <= range.to; day++) {
    const counts = byDay.get(day);
    daily.push({
      date: formatDay(day),
      visits: counts?.visits ?? 0,
      uniqueVisitors: counts?.visitors ?? 0,
    });
  }
  return {
    from: formatDay(range.from),
    to: formatDay(range.to),
    total: daily.reduce((sum, day) => sum + day.visits, 0),
    // The union of the days' sketches, plus those counted before sketches were kept, which none holds.
    uniqueVisitors: summary.sketch.estimate() + summary.unsketchedVisitors,
    uniqueVisitorsMethod: 'estimated',
    daily,
    referrers: top(summary, 'referrer', limit),
    browsers: top(summary, 'browser', limit),
    operatingSystems: top(summary, 'os', limit),
    devices: top(summary, 'device', limit),
    languages: top(summary, 'language', limit),
  };
}
