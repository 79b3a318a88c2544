// The purge section's schedule and report: when each run starts (the sweep
// is set for a known moment when link starts), the figures, and the targets
// met or not from them.
import type { RateResult } from './autocannon.ts';
import { fmt } from './report.ts';

/** Live redirect p99 during the purge over p99 without it, at most. */
export const PURGE_P99_RATIO_TARGET = 1.2;

export interface PurgeTimes {
  /** Seconds after link is started by which the caches must be warm. */
  prepSeconds: number;
  probeSeconds: number;
  warmupSeconds: number;
  durationSeconds: number;
}

/** Seconds between runs: a child's start and stop, and a breath. */
const SLACK_S = 5;
/** The sweep begins this long into the purge run's measured window. */
export const SWEEP_LEAD_S = 2;

export interface PurgeTimetable {
  probeAt: number;
  baselineAt: number;
  purgeRunAt: number;
  /** LINK_SWEEP_DELAY: the only sweep of the run. */
  sweepAt: number;
}

/** Seconds after link starts at which each run starts, and the sweep. */
export function purgeTimetable(t: PurgeTimes): PurgeTimetable {
  const probeAt = t.prepSeconds;
  const baselineAt = probeAt + t.probeSeconds + SLACK_S;
  const purgeRunAt = baselineAt + t.warmupSeconds + t.durationSeconds + SLACK_S;
  return { probeAt, baselineAt, purgeRunAt, sweepAt: purgeRunAt + t.warmupSeconds + SWEEP_LEAD_S };
}

/** HTTP statuses answered, by status (0: no answer). */
export type Tally = Record<string, number>;

export function tally(statuses: number[]): Tally {
  const counts: Tally = {};
  for (const status of statuses) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}

/** Every answer was `status`, and there was at least one. */
export function allAre(counts: Tally, status: number): boolean {
  const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
  return total > 0 && counts[status] === total;
}

export interface PurgeResult {
  live: number;
  expired: number;
  hot: number;
  loadCodes: number;
  seedSeconds: number;
  sweep: { chunk: number; parallel: number; rate: number };
  connections: number;
  times: PurgeTimes;
  probe: RateResult;
  rate: number;
  baseline: RateResult;
  during: RateResult;
  baselineCpu: Record<string, number>;
  duringCpu: Record<string, number>;
  /** Epoch ms: the first chunk seen committed, and every expired link seen purged (NaN if never). */
  purgeFirstSeenAt: number;
  purgeDoneAt: number;
  /** Links left after the purge: expired ones not purged, live ones purged by mistake. */
  leftExpired: number;
  purgedLive: number;
  /** Before the purge: hot links, expired in the database, still served 302 from a cache. */
  before: { nearCache: Tally; sharedCache: Tally; sharedEntries: number };
  /** After: purged codes with a shared-cache entry, and answers for purged codes. */
  after: { sharedEntries: number; nearGateway: Tally; loadGateway: Tally; sampled: number };
  machine: string;
}

export interface PurgeVerdict {
  ratio: number;
  ratioMet: boolean;
  purgeSeconds: number;
  linksPerSecond: number;
  /** Share of the purge (first chunk to last) inside the measured window. */
  purgeInWindow: number;
  nonePurgedServed: boolean;
  cachesHeldThemBefore: boolean;
}

export function purgeVerdict(r: PurgeResult): PurgeVerdict {
  const ratio = r.during.p99Ms / r.baseline.p99Ms;
  const purgeSeconds = (r.purgeDoneAt - r.purgeFirstSeenAt) / 1_000;
  const overlap =
    Math.min(r.purgeDoneAt, r.during.finishedAt) - Math.max(r.purgeFirstSeenAt, r.during.startedAt);
  return {
    ratio,
    ratioMet: ratio <= PURGE_P99_RATIO_TARGET,
    purgeSeconds,
    linksPerSecond: r.expired / purgeSeconds,
    purgeInWindow: Math.max(0, overlap) / (r.purgeDoneAt - r.purgeFirstSeenAt),
    nonePurgedServed:
      r.leftExpired === 0 &&
      r.after.sharedEntries === 0 &&
      allAre(r.after.nearGateway, 404) &&
      allAre(r.after.loadGateway, 404),
    cachesHeldThemBefore:
      allAre(r.before.nearCache, 302) &&
      allAre(r.before.sharedCache, 302) &&
      r.before.sharedEntries > 0,
  };
}

const verdictText = (ok: boolean) => (ok ? 'met' : 'NOT met');
const tallyText = (t: Tally) =>
  Object.entries(t)
    .map(([status, n]) => `${n} × ${status === '0' ? 'no answer' : status}`)
    .join(', ') || 'none';
const cpuText = (cpu: Record<string, number>) =>
  Object.entries(cpu)
    .filter(([, seconds]) => Number.isFinite(seconds))
    .map(([name, seconds]) => `${name} ${seconds.toFixed(1)} s`)
    .join(', ');

export function renderPurge(r: PurgeResult): string {
  const v = purgeVerdict(r);
  const t = r.times;
  const window = (at: number) => fmt((at - r.during.startedAt) / 1_000, 1);
  const row = (name: string, x: RateResult) =>
    `| ${name} | ${fmt(x.requestsPerSecond)} | ${fmt(x.p50Ms, 1)} | ${fmt(x.p99Ms, 1)} | ${x.errors} |`;
  const half = Math.floor(r.hot / 2);
  return [
    '## Purging expired links under live redirects',
    '',
    `- Links: ${r.live.toLocaleString('en')} live and ${r.expired.toLocaleString('en')} expired (every ${fmt((r.live + r.expired) / r.expired, 1)}th in id order; half past an explicit expiry, half idle past \`LINK_IDLE_EXPIRY\`), seeded by multi-row INSERTs in ${fmt(r.seedSeconds)} s. One link process (sweeper \`LINK_SWEEP_CHUNK\` ${r.sweep.chunk}, \`LINK_SWEEP_PARALLEL\` ${r.sweep.parallel}, \`LINK_SWEEP_RATE\` ${r.sweep.rate || 'unlimited'}; its one sweep set by \`LINK_SWEEP_DELAY\` to begin about ${SWEEP_LEAD_S} s into the second measured run), on MariaDB, Redis and RabbitMQ; clicks not recorded.`,
    `- Load: autocannon, ${r.connections} connections, GET of a random one of ${r.loadCodes.toLocaleString('en')} live codes (warm in Redis) through a gateway with its near cache off, so every redirect crosses to link, the process that also sweeps. The maximum rate was measured by a ${t.probeSeconds} s saturating run (${fmt(r.probe.requestsPerSecond)} req/s, p99 ${fmt(r.probe.p99Ms, 1)} ms); both runs then offered ${fmt(r.rate)} req/s (half), ${t.warmupSeconds} s warm-up and ${t.durationSeconds} s measured each, with latencies corrected for coordinated omission.`,
    `- Hot purged links: ${r.hot} of the expired links were live and requested before the purge; then their rows were given an expiry in the past with no cache told (time passing). ${half} stayed in link's Redis cache and in a second gateway's near cache (NEAR_CACHE_TTL 1h), the other ${r.hot - half} in that near cache only (their Redis entries removed).`,
    `- Machine: ${r.machine}. "Whole machine" CPU below counts every process on it, other work included: on a shared machine compare the two runs of one report, not reports.`,
    '',
    '| live redirects | req/s | p50 ms | p99 ms | errors |',
    '|---|---:|---:|---:|---:|',
    row('without the purge', r.baseline),
    row('during the purge', r.during),
    '',
    `CPU seconds (warm-up and run): without the purge ${cpuText(r.baselineCpu)}; during ${cpuText(r.duringCpu)}.`,
    '',
    `- p99 during the purge / without: ${fmt(v.ratio, 2)} (target ≤ ${PURGE_P99_RATIO_TARGET}: ${verdictText(v.ratioMet)}).`,
    `- Purge: ${r.expired.toLocaleString('en')} links in ${fmt(v.purgeSeconds, 1)} s, ${fmt(v.linksPerSecond)} links/s (first tombstone seen at ${window(r.purgeFirstSeenAt)} s of the ${t.durationSeconds} s window, none left to purge at ${window(r.purgeDoneAt)} s, polled every 250 and 500 ms; ${fmt(v.purgeInWindow * 100)}% of the purge inside the window). Left unpurged: ${r.leftExpired}; live links purged: ${r.purgedLive}.`,
    `- Before the purge, hot links expired in the database: near cache answered ${tallyText(r.before.nearCache)} (near-cache-only half); Redis path answered ${tallyText(r.before.sharedCache)}; ${r.before.sharedEntries} Redis entries held (caches holding them: ${verdictText(v.cachesHeldThemBefore)}).`,
    `- After the purge: Redis entries for purged codes ${r.after.sharedEntries} of ${r.expired}; the ${r.hot} hot and ${r.after.sampled} other purged codes answered, through the near-cache gateway: ${tallyText(r.after.nearGateway)}; through the load gateway: ${tallyText(r.after.loadGateway)}. No purged link served from any cache (every answer 404; 410 would be a stale entry): ${verdictText(v.nonePurgedServed)}.`,
    '',
  ].join('\n');
}
