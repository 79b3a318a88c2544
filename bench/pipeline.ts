// The pipeline section of `npm run bench`: the click pipeline measured on its
// own, with no redirect load, and analytics' read path on a big link.
//
// - Pipeline alone: N clicks published on the bus exactly as the gateway
//   publishes them (gateway/clicks/publish.ts, one LinkClickedBatch message
//   per 500 clicks, confirmed), consumed by a running analytics process;
//   the rate of visits stored is read from count(*) of its `visits` table.
// - Reference: the same number of visit rows written by plain multi-row
//   INSERTs (500 rows a statement) into a copy of `visits`, in the same run.
// - GetLinkStats: one link given 1,000,000 visits over 365 days through the
//   visit recorder itself (in process, 4,000 clicks a batch, as the consumer
//   hands them over), then asked for its whole year over gRPC.
import { createConnection } from 'mysql2/promise';
import type { Click } from '../gateway/clicks/click-buffer.ts';
import { encodeClicks, publishClicksOn } from '../gateway/clicks/publish.ts';
import { AnalyticsServiceClient, AnalyticsServiceService } from '../gen/shortener/v1/analytics.ts';
import { PrincipalKind } from '../gen/shortener/v1/principal.ts';
import type { Bus, Delivery } from '../lib/bus/bus.ts';
import { EVENTS } from '../lib/bus/catalog.ts';
import { openDatabase } from '../lib/db/open.ts';
import { connect, promiseClient } from '../lib/grpc/client.ts';
import { healthChecker } from '../lib/grpc/health-client.ts';
import type { Logger } from '../lib/log.ts';
import { DEFAULT_PREFIXES } from '../services/analytics/domain/client-address.ts';
import { DAY_MS, dayOf, formatDay } from '../services/analytics/domain/days.ts';
import { VisitRecorder } from '../services/analytics/domain/record-visits.ts';
import { toVisit } from '../services/analytics/domain/visits.ts';
import { analyticsSchema } from '../services/analytics/store/schema.ts';
import { VISIT_COLUMNS, VisitStore, visitRow } from '../services/analytics/store/visit-store.ts';
import { clicksOf } from '../services/analytics/workers/click-consumers.ts';
import { type ClickedLink, clickMaker } from './clicks.ts';
import { cpuSeconds } from './processes.ts';

export interface PipelineSettings {
  /** Clicks published for the pipeline-alone measure (and rows for the reference). */
  clicks: number;
  /** Clicks per bus message, as the gateway's CLICKS_BATCH_SIZE. */
  batchSize: number;
  /** How long the bench waits for every click to be stored. */
  waitSeconds: number;
  /** Visits the stats link gets. */
  statsVisits: number;
  /** Clicks per visit-recorder call while giving it those visits. */
  statsBatch: number;
  /** GetLinkStats calls per setting of include_bots. */
  statsCalls: number;
  statsConcurrency: number;
}

export interface PipelineAlone {
  clicks: number;
  messages: number;
  stored: number;
  /** Seconds from the first publish to the last confirm. */
  publishSeconds: number;
  /** Seconds from the first publish until all were stored (NaN if not within the wait). */
  storedSeconds: number;
  /** Seconds from the last confirmed publish until the last visit was stored (NaN likewise). */
  lastPublishToStoredSeconds: number;
  /** Clicks stored per second, first publish to last stored (or to the end of the wait). */
  storedPerSecond: number;
  /** Clicks stored per second between 10% and 90% stored: the sustained rate. */
  sustainedPerSecond: number;
  waitSeconds: number;
  /** CPU seconds each process spent from the first publish until all were stored. */
  cpu: Record<string, number>;
}

export interface Reference {
  rows: number;
  rowsPerStatement: number;
  seconds: number;
  rowsPerSecond: number;
}

export interface StatsLatency {
  includeBots: boolean;
  calls: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** `total` of the answer: every visit with bots, the others without. */
  total: number;
}

export interface StatsResult {
  visits: number;
  days: number;
  batch: number;
  seedSeconds: number;
  concurrency: number;
  latencies: StatsLatency[];
}

export interface PipelineSection {
  settings: PipelineSettings;
  alone: PipelineAlone;
  reference: Reference;
  stats: StatsResult;
}

/** What the section runs against: the processes are started by run.ts, as for the redirect scenarios. */
export interface PipelineTargets {
  /** The analytics database (mysql://…/name) its process uses. */
  analyticsDatabaseUrl: string;
  /** host:port of the running analytics service. */
  analyticsAddress: string;
  /** A bus on the section's own exchange and queues. */
  bus: Bus;
  /** Seeded links the published clicks spread over. */
  links: ClickedLink[];
  /** A link with no visits yet, owned by `statsLink.ownerId` (a guest). */
  statsLink: ClickedLink;
  log: Logger;
  /**
   * Messages ready in the visit recorder's queue. Given, the visits are
   * counted (COUNT(*), the whole table) once a second while it holds some
   * and every 100 ms after; without it, every 250 ms.
   */
  ready?: () => Promise<number>;
  /** Processes whose CPU time the pipeline-alone measure reports, by name (the bench itself publishes). */
  pids: Record<string, number | undefined>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function countVisits(db: Awaited<ReturnType<typeof createConnection>>): Promise<number> {
  const [rows] = await db.query('SELECT COUNT(*) AS n FROM visits');
  return Number((rows as { n: number }[])[0]?.n ?? 0);
}

export async function waitForServing(address: string, service: string): Promise<void> {
  const health = healthChecker(address);
  try {
    const start = Date.now();
    while (!(await health.serving(service, 1_000))) {
      if (Date.now() - start > 60_000) throw new Error(`${service} at ${address} did not serve`);
      await sleep(200);
    }
  } finally {
    health.close();
  }
}

function batches(clicks: Click[], size: number): Click[][] {
  const out: Click[][] = [];
  for (let i = 0; i < clicks.length; i += size) out.push(clicks.slice(i, i + size));
  return out;
}

/** The clicks of the pipeline-alone measure: now-ish, spread over every seeded link. */
function pipelineClicks(targets: PipelineTargets, count: number): Click[] {
  const maker = clickMaker({ seed: 14, visitors: 50_000 });
  const now = Date.now();
  return Array.from({ length: count }, (_, i) =>
    maker.click(
      targets.links[(i * 7_919) % targets.links.length] as ClickedLink,
      now - (count - i),
    ),
  );
}

async function pipelineAlone(
  targets: PipelineTargets,
  settings: PipelineSettings,
  clicks: Click[],
): Promise<PipelineAlone> {
  const messages = batches(clicks, settings.batchSize);
  const publish = publishClicksOn(targets.bus);
  const db = await createConnection({ uri: targets.analyticsDatabaseUrl });
  const samples: { at: number; stored: number }[] = [];
  const total = clicks.length;
  try {
    const before = await countVisits(db);
    if (before !== 0) throw new Error(`the pipeline's visits table is not empty (${before})`);
    const cpuBefore = cpuOf(targets.pids);
    const started = performance.now();
    let published = Number.NaN;
    const publishing = (async () => {
      for (const batch of messages) await publish(batch);
      published = performance.now();
    })();
    let stored = 0;
    let counted = Number.NEGATIVE_INFINITY;
    while (performance.now() - started < settings.waitSeconds * 1_000) {
      const queued = targets.ready ? await targets.ready() : 0;
      if (queued === 0 || performance.now() - counted >= 1_000) {
        counted = performance.now();
        stored = await countVisits(db);
        samples.push({ at: performance.now(), stored });
        if (stored >= total) break;
      }
      await sleep(targets.ready ? 100 : 250);
    }
    await publishing;
    const cpuAfter = cpuOf(targets.pids);
    const done = stored >= total ? (samples.at(-1)?.at ?? Number.NaN) : Number.NaN;
    const end = Number.isFinite(done) ? done : performance.now();
    const reached = (share: number) => samples.find((s) => s.stored >= total * share);
    const [low, high] = [reached(0.1), reached(0.9)];
    return {
      clicks: total,
      messages: messages.length,
      stored,
      publishSeconds: (published - started) / 1_000,
      storedSeconds: (done - started) / 1_000,
      lastPublishToStoredSeconds: (done - published) / 1_000,
      storedPerSecond: stored / ((end - started) / 1_000),
      sustainedPerSecond:
        low && high && high.at > low.at
          ? (high.stored - low.stored) / ((high.at - low.at) / 1_000)
          : Number.NaN,
      waitSeconds: settings.waitSeconds,
      cpu: Object.fromEntries(
        Object.entries(cpuAfter).map(([name, after]) => [name, after - (cpuBefore[name] ?? 0)]),
      ),
    };
  } finally {
    await db.end();
  }
}

function cpuOf(pids: Record<string, number | undefined>): Record<string, number> {
  return Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid)]));
}

/** Plain multi-row INSERTs of the same clicks as visit rows, into a scratch copy of `visits`. */
async function reference(
  targets: PipelineTargets,
  clicks: Click[],
  rowsPerStatement: number,
): Promise<Reference> {
  const policy = { prefixes: DEFAULT_PREFIXES };
  const rows = clicksOf([delivery(encodeClicks(clicks))]).map((click) => {
    return visitRow(toVisit(click, policy, 'reference'), '1');
  });
  const db = await createConnection({ uri: targets.analyticsDatabaseUrl });
  try {
    await db.query('DROP TABLE IF EXISTS visits_reference');
    await db.query('CREATE TABLE visits_reference LIKE visits');
    const sql = `INSERT INTO visits_reference (${VISIT_COLUMNS.join(', ')}) VALUES ?`;
    const started = performance.now();
    for (let i = 0; i < rows.length; i += rowsPerStatement) {
      await db.query(sql, [rows.slice(i, i + rowsPerStatement)]);
    }
    const seconds = (performance.now() - started) / 1_000;
    const [count] = await db.query('SELECT COUNT(*) AS n FROM visits_reference');
    const written = Number((count as { n: number }[])[0]?.n ?? 0);
    if (written !== rows.length) throw new Error(`reference wrote ${written} of ${rows.length}`);
    return { rows: rows.length, rowsPerStatement, seconds, rowsPerSecond: rows.length / seconds };
  } finally {
    await db.query('DROP TABLE IF EXISTS visits_reference').catch(() => {});
    await db.end();
  }
}

function delivery(body: Uint8Array): Delivery {
  return { body, routingKey: EVENTS.linkClicked, attempt: 1, redelivered: false };
}

/** Gives the stats link its visits through the visit recorder, oldest first, as they would have come in live. */
async function seedStatsLink(
  targets: PipelineTargets,
  settings: PipelineSettings,
  days: number,
): Promise<number> {
  const orm = await openDatabase({
    url: targets.analyticsDatabaseUrl,
    schema: analyticsSchema,
    log: targets.log,
  });
  const store = new VisitStore(orm, 'mysql');
  const recorder = new VisitRecorder(store, { prefixes: DEFAULT_PREFIXES });
  const maker = clickMaker({ seed: 365, visitors: 2_000 });
  const end = Date.now();
  const start = (dayOf(end) - days + 1) * DAY_MS;
  const step = (end - start) / settings.statsVisits;
  const started = performance.now();
  try {
    for (let i = 0; i < settings.statsVisits; i += settings.statsBatch) {
      const size = Math.min(settings.statsBatch, settings.statsVisits - i);
      const clicks = Array.from({ length: size }, (_, j) =>
        maker.click(targets.statsLink, Math.floor(start + (i + j) * step)),
      );
      const outcome = await recorder.record(clicksOf([delivery(encodeClicks(clicks))]));
      if (outcome.recorded !== size) throw new Error(`recorded ${outcome.recorded} of ${size}`);
    }
  } finally {
    await orm.close();
  }
  return (performance.now() - started) / 1_000;
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;

async function statsLatencies(
  targets: PipelineTargets,
  settings: PipelineSettings,
  days: number,
): Promise<StatsLatency[]> {
  const client = connect(AnalyticsServiceClient, targets.analyticsAddress, 5_000);
  const analytics = promiseClient(client, AnalyticsServiceService);
  const today = dayOf(Date.now());
  const request = (includeBots: boolean) => ({
    caller: { id: targets.statsLink.ownerId, kind: PrincipalKind.PRINCIPAL_KIND_GUEST },
    code: targets.statsLink.code,
    fromDate: formatDay(today - days + 1),
    toDate: formatDay(today),
    includeBots,
    breakdownLimit: 0,
  });
  try {
    const results: StatsLatency[] = [];
    for (const includeBots of [false, true]) {
      // Warm-up: connections, the link service's cache, MariaDB's buffer pool.
      for (let i = 0; i < 20; i++) await analytics.getLinkStats(request(includeBots));
      const times: number[] = [];
      let errors = 0;
      let total = Number.NaN;
      let next = 0;
      const worker = async () => {
        while (next < settings.statsCalls) {
          next++;
          const started = performance.now();
          try {
            const answer = await analytics.getLinkStats(request(includeBots));
            times.push(performance.now() - started);
            total = Number(answer.total);
          } catch {
            errors++;
          }
        }
      };
      await Promise.all(Array.from({ length: settings.statsConcurrency }, worker));
      times.sort((a, b) => a - b);
      results.push({
        includeBots,
        calls: settings.statsCalls,
        errors,
        p50Ms: percentile(times, 50),
        p99Ms: percentile(times, 99),
        maxMs: times.at(-1) ?? Number.NaN,
        total,
      });
    }
    return results;
  } finally {
    client.close();
  }
}

export async function runPipelineSection(
  targets: PipelineTargets,
  settings: PipelineSettings,
): Promise<PipelineSection> {
  await waitForServing(targets.analyticsAddress, 'shortener.v1.AnalyticsService');
  const clicks = pipelineClicks(targets, settings.clicks);
  console.log(`pipeline alone: publishing ${clicks.length} clicks`);
  const alone = await pipelineAlone(targets, settings, clicks);
  console.log(
    `pipeline alone: ${alone.stored} of ${alone.clicks} stored, ${alone.storedPerSecond.toFixed(0)}/s (sustained ${alone.sustainedPerSecond.toFixed(0)}/s), last ${alone.lastPublishToStoredSeconds.toFixed(1)} s after the last publish`,
  );
  const ref = await reference(targets, clicks, settings.batchSize);
  console.log(
    `reference: ${ref.rows} rows in ${ref.seconds.toFixed(1)} s, ${ref.rowsPerSecond.toFixed(0)}/s`,
  );
  const days = 365;
  console.log(`stats: recording ${settings.statsVisits} visits of one link over ${days} days`);
  const seedSeconds = await seedStatsLink(targets, settings, days);
  console.log(`stats: recorded in ${seedSeconds.toFixed(1)} s; calling GetLinkStats`);
  const latencies = await statsLatencies(targets, settings, days);
  for (const l of latencies) {
    console.log(
      `GetLinkStats includeBots=${l.includeBots}: p50 ${l.p50Ms.toFixed(1)} ms, p99 ${l.p99Ms.toFixed(1)} ms, errors ${l.errors}, total ${l.total}`,
    );
  }
  return {
    settings,
    alone,
    reference: ref,
    stats: {
      visits: settings.statsVisits,
      days,
      batch: settings.statsBatch,
      seedSeconds,
      concurrency: settings.statsConcurrency,
      latencies,
    },
  };
}
