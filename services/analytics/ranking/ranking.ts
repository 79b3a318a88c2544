// Port: the live ranking of links by visits, counted in time buckets (Redis
// sorted sets, or in process for the embedded mesh; one contract suite runs
// on both: test/contract/ranking.test.ts).
//
// Each window is a run of buckets: 5 of 1 minute for the last 5 minutes, 12
// of 5 minutes for the hour, 24 of 1 hour for the day. A click adds one to
// its link in the bucket of its time, for each window; a bucket is dropped
// once it has left its window, so nothing needs sweeping. A window therefore
// covers its length to within one bucket.
//
// Counting is idempotent by event id: each click's event id is remembered
// for the dedup horizon after its time, and a click older than the horizon
// is not counted at all, since it could be a redelivery whose id is
// forgotten. So a click is counted at most once, and exactly once if it
// arrives within the horizon; the visit recorder keeps the exact record.
//
// A member of a bucket is `<link id>:<code>`, so a ranking names its links'
// codes, and a caller who knows its links (from LinkService) can score
// exactly those: the own-links ranking is computed from its owner's links,
// never filtered out of the global top list.

export type RankingWindow = '5m' | '1h' | '24h';

export const RANKING_WINDOWS: Readonly<
  Record<RankingWindow, { lengthMs: number; bucketMs: number }>
> = {
  '5m': { lengthMs: 5 * 60_000, bucketMs: 60_000 },
  '1h': { lengthMs: 3_600_000, bucketMs: 5 * 60_000 },
  '24h': { lengthMs: 86_400_000, bucketMs: 3_600_000 },
};

export const WINDOW_NAMES = Object.keys(RANKING_WINDOWS) as RankingWindow[];

export interface RankedClick {
  eventId: string;
  linkId: string;
  code: string;
  /** When the click happened, ms since the epoch. */
  at: number;
}

export interface LinkRef {
  linkId: string;
  code: string;
}

export interface RankedLink extends LinkRef {
  visits: number;
}

export interface Ranking {
  /** Counts each click not counted before (within the dedup horizon); returns how many it counted. */
  record(clicks: readonly RankedClick[]): Promise<number>;
  /** The `limit` links with the most visits in the window, most first; only links with visits. */
  top(window: RankingWindow, limit: number): Promise<RankedLink[]>;
  /** Each link's visits in the window, in the order given (0 for none). */
  visitsOf(window: RankingWindow, links: readonly LinkRef[]): Promise<number[]>;
}

/** The indexes of the buckets a window covers at `now`, oldest first. */
export function bucketsOf(window: RankingWindow, now: number): number[] {
  const { lengthMs, bucketMs } = RANKING_WINDOWS[window];
  const current = Math.floor(now / bucketMs);
  const count = lengthMs / bucketMs;
  return Array.from({ length: count }, (_, i) => current - count + 1 + i);
}

/** When a bucket has left its window for good, ms since the epoch. */
export function bucketEndsAt(window: RankingWindow, bucket: number): number {
  const { lengthMs, bucketMs } = RANKING_WINDOWS[window];
  return (bucket + 1) * bucketMs + lengthMs;
}

export const memberOf = (link: LinkRef) => `${link.linkId}:${link.code}`;

export function linkOfMember(member: string): LinkRef {
  const colon = member.indexOf(':');
  return { linkId: member.slice(0, colon), code: member.slice(colon + 1) };
}

/** Ids are remembered per minute of click time, and forgotten together. */
export const SEEN_SLOT_MS = 60_000;

/** Whether a click is recent enough to be counted: its id is still remembered if it was seen. */
export function countable(click: RankedClick, now: number, horizonMs: number): boolean {
  return click.at > now - horizonMs;
}

/** Most visits first; equal visits by member, descending (Redis's order for equal scores). */
export function byVisits(a: { member: string; visits: number }, b: typeof a): number {
  if (a.visits !== b.visits) return b.visits - a.visits;
  return a.member < b.member ? 1 : a.member > b.member ? -1 : 0;
}
