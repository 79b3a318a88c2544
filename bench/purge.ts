// The purge section of `npm run bench`: live redirects at a fixed offered
// rate (half the measured maximum), once with no purge and once while the
// sweeper purges the expired links, in one run of one link process; then
// whether any purged link is still served from a cache. The schedule is set
// when link starts (purge-report.ts: purgeTimetable), since its only sweep
// is: LINK_SWEEP_DELAY, with an interval longer than the run.
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { createConnection } from 'mysql2/promise';
import { LinkServiceClient, LinkServiceService } from '../gen/shortener/v1/link.ts';
import type { BusConfig } from '../lib/bus/config.ts';
import { topologyOf } from '../lib/bus/open.ts';
import { connect, promiseClient } from '../lib/grpc/client.ts';
import { healthChecker } from '../lib/grpc/health-client.ts';
import type { Logger } from '../lib/log.ts';
import { removeTopology } from '../test/support/bus.ts';
import { freePort } from '../test/support/ports.ts';
import { type RateLoad, type RateResult, runRateLoad } from './autocannon.ts';
import {
  cpuSeconds,
  machineCpuSeconds,
  startProcess,
  startScriptArgs,
  stopProcess,
  waitForHttp,
} from './processes.ts';
import { type PurgeResult, purgeTimetable, tally } from './purge-report.ts';
import { expireBehindTheCaches, type PurgeSeed, seedPurge } from './purge-seed.ts';

const IDLE = '180d';
const IDLE_MS = 180 * 86_400_000;

export interface PurgeSettings {
  mysqlUrl: string;
  /** The section's own link database (created here, dropped by the caller). */
  database: string;
  redisUrl: string;
  prefix: string;
  rabbitmqUrl: string;
  bus: BusConfig;
  live: number;
  expired: number;
  hot: number;
  loadCodes: number;
  /** LINK_SWEEP_CHUNK and LINK_SWEEP_PARALLEL of the sweeping link process. */
  sweep: { chunk: number; parallel: number; rate: number };
  /** Purged codes, besides the hot ones, asked for after the purge. */
  checkSample: number;
  connections: number;
  prepSeconds: number;
  probeSeconds: number;
  warmupSeconds: number;
  durationSeconds: number;
  /** How long after the purge run the purge may still take. */
  purgeWaitSeconds: number;
  nodeFlags: string[];
  workDir: string;
  pids: Record<string, number | undefined>;
  log: Logger;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** The statuses `codes` answer through `base`, a few requests at a time. */
async function answers(base: string, codes: string[]): Promise<number[]> {
  const statuses: number[] = [];
  let next = 0;
  const asker = async () => {
    while (next < codes.length) {
      const code = codes[next++] as string;
      const response = await fetch(`${base}/${code}`, { redirect: 'manual' }).catch(() => null);
      await response?.arrayBuffer();
      statuses.push(response?.status ?? 0);
    }
  };
  await Promise.all(Array.from({ length: 16 }, asker));
  return statuses;
}

async function warmSharedCache(linkAddress: string, codes: string[]): Promise<void> {
  const client = promiseClient(connect(LinkServiceClient, linkAddress, 30_000), LinkServiceService);
  for (let i = 0; i < codes.length; i += 1_000) {
    const items = codes.slice(i, i + 1_000).map((code) => ({ code, head: false }));
    const { results } = await client.resolveLinks({ items });
    if (results.some((r) => r.status !== 1))
      throw new Error('warming: a live code did not resolve');
  }
}

const cacheKey = (s: PurgeSettings, code: string) => `${s.prefix}cache:link:${code}`;

async function sharedEntries(s: PurgeSettings, codes: string[]): Promise<number> {
  const redis = new Redis(s.redisUrl);
  let present = 0;
  try {
    for (let i = 0; i < codes.length; i += 10_000) {
      const keys = codes.slice(i, i + 10_000).map((code) => cacheKey(s, code));
      present += await redis.exists(...keys);
    }
  } finally {
    redis.disconnect();
  }
  return present;
}

async function dropSharedEntries(s: PurgeSettings, codes: string[]): Promise<void> {
  const redis = new Redis(s.redisUrl);
  await redis.unlink(...codes.map((code) => cacheKey(s, code)));
  redis.disconnect();
}

interface PurgeWatch {
  firstSeenAt: number;
  doneAt: number;
  stop(): Promise<void>;
}

/** Links the sweeper would still take at `now`: its own three index ranges (migration 0006). */
const EXPIRED_LEFT = `SELECT
  (SELECT COUNT(*) FROM links WHERE deleted_at IS NULL AND expires_at <= ?)
  + (SELECT COUNT(*) FROM links WHERE deleted_at IS NULL AND exhausted_at <= ?)
  + (SELECT COUNT(*) FROM links WHERE deleted_at IS NULL AND idle_from <= ?
       AND (extended_to IS NULL OR extended_to <= ?)) AS n`;

/**
 * Watches the purge along the indexes the sweeper reads, cheaply enough to
 * run under the load: the first tombstone, every 250 ms, then how many
 * expired links are left, every 500 ms, until none is.
 */
async function watchPurge(s: PurgeSettings): Promise<PurgeWatch> {
  const db = await createConnection({ uri: `${s.mysqlUrl}/${s.database}` });
  const watch: PurgeWatch = { firstSeenAt: Number.NaN, doneAt: Number.NaN, stop: async () => {} };
  const anyPurged = async () => {
    const [rows] = await db.query('SELECT id FROM links WHERE deleted_at IS NOT NULL LIMIT 1');
    return (rows as unknown[]).length > 0;
  };
  const left = async () => {
    const now = new Date();
    const [rows] = await db.query(EXPIRED_LEFT, [now, now, new Date(now.getTime() - IDLE_MS), now]);
    return Number((rows as { n: number }[])[0]?.n ?? 0);
  };
  let stopped = false;
  const loop = (async () => {
    while (!stopped && Number.isNaN(watch.firstSeenAt)) {
      if (await anyPurged()) watch.firstSeenAt = Date.now();
      else await sleep(250);
    }
    while (!stopped && Number.isNaN(watch.doneAt)) {
      if ((await left()) === 0) watch.doneAt = Date.now();
      else await sleep(500);
    }
  })();
  let closed: Promise<void> | undefined;
  watch.stop = () => {
    stopped = true;
    closed ??= loop.then(() => db.end());
    return closed;
  };
  return watch;
}

/** Expired links not purged, and live links purged by mistake. */
async function leftOver(
  s: PurgeSettings,
  seed: PurgeSeed,
): Promise<{ leftExpired: number; purgedLive: number }> {
  const db = await createConnection({ uri: `${s.mysqlUrl}/${s.database}` });
  try {
    let leftExpired = 0;
    for (let i = 0; i < seed.expired.length; i += 10_000) {
      const ids = seed.expired.slice(i, i + 10_000).map((link) => link.id);
      const [rows] = await db.query(
        'SELECT COUNT(*) AS n FROM links WHERE id IN (?) AND deleted_at IS NULL',
        [ids],
      );
      leftExpired += Number((rows as { n: number }[])[0]?.n ?? 0);
    }
    const [rows] = await db.query('SELECT COUNT(*) AS n FROM links WHERE deleted_at IS NOT NULL');
    const purged = Number((rows as { n: number }[])[0]?.n ?? 0);
    return { leftExpired, purgedLive: purged - (seed.expired.length - leftExpired) };
  } finally {
    await db.end();
  }
}

/** Picks `count` codes spread over `codes`. */
function spread<T>(items: T[], count: number): T[] {
  if (count >= items.length) return [...items];
  const step = items.length / count;
  return Array.from({ length: count }, (_, i) => items[Math.floor(i * step)] as T);
}

/** When the gRPC server at `address` first answers SERVING (polled closely). */
async function servingSince(address: string): Promise<number> {
  const health = healthChecker(address);
  const start = Date.now();
  try {
    while (!(await health.serving('', 250))) {
      if (Date.now() - start > 60_000) throw new Error(`link at ${address} did not serve`);
      await sleep(50);
    }
    return Date.now();
  } finally {
    health.close();
  }
}

function loadAverage(): string {
  const [one, five] = loadavg();
  return `${one?.toFixed(2)} (1 min), ${five?.toFixed(2)} (5 min)`;
}

export async function purgeSection(s: PurgeSettings): Promise<PurgeResult> {
  const databaseUrl = `${s.mysqlUrl}/${s.database}`;
  const idleLoad = loadAverage();
  console.log(`purge: seeding ${s.live} live and ${s.expired} expired links into ${s.database}`);
  const seed = await seedPurge(
    databaseUrl,
    { live: s.live, expired: s.expired, hot: s.hot, idleMs: IDLE_MS },
    s.log,
  );
  console.log(`purge: seeded in ${seed.seconds.toFixed(1)} s`);
  const times = {
    prepSeconds: s.prepSeconds,
    probeSeconds: s.probeSeconds,
    warmupSeconds: s.warmupSeconds,
    durationSeconds: s.durationSeconds,
  };
  const plan = purgeTimetable(times);
  const linkPort = await freePort();
  const loadPort = await freePort();
  const nearPort = await freePort();
  const common = {
    REDIS_URL: s.redisUrl,
    REDIS_KEY_PREFIX: s.prefix,
    RABBITMQ_URL: s.rabbitmqUrl,
    BUS_EXCHANGE: s.bus.exchange,
    BUS_QUEUE_PREFIX: s.bus.queuePrefix,
    CLICKS_RECORD: 'false',
  };
  const link = startProcess('link', startScriptArgs('start:link'), {
    ...common,
    LINK_DATABASE_URL: databaseUrl,
    LINK_GRPC_LISTEN: `127.0.0.1:${linkPort}`,
    LINK_IDLE_EXPIRY: IDLE,
    LINK_SWEEP_INTERVAL: '1d',
    LINK_SWEEP_DELAY: `${plan.sweepAt}s`,
    LINK_SWEEP_CHUNK: String(s.sweep.chunk),
    LINK_SWEEP_PARALLEL: String(s.sweep.parallel),
    LINK_SWEEP_RATE: String(s.sweep.rate),
  });
  const gateway = (port: number, near: Record<string, string>) =>
    startProcess('gateway', startScriptArgs('start:gateway'), {
      ...common,
      ...near,
      GATEWAY_LISTEN: `127.0.0.1:${port}`,
      LINK_GRPC_TARGET: `127.0.0.1:${linkPort}`,
      IDENTITY_GRPC_TARGET: '127.0.0.1:1',
    });
  const loadGateway = gateway(loadPort, { NEAR_CACHE_SIZE: '0' });
  const nearGateway = gateway(nearPort, { NEAR_CACHE_SIZE: '100000', NEAR_CACHE_TTL: '1h' });
  const loadUrl = `http://127.0.0.1:${loadPort}`;
  const nearUrl = `http://127.0.0.1:${nearPort}`;
  const pids = { ...s.pids, link: link.pid, gateway: loadGateway.pid };
  let watch: PurgeWatch | undefined;
  try {
    // Link sets its sweep timer as it starts serving: the schedule counts from there.
    const servingAt = await servingSince(`127.0.0.1:${linkPort}`);
    const at = (seconds: number) => servingAt + seconds * 1_000;
    await waitForHttp(`${loadUrl}/readyz`, (status) => status === 200, 60_000);
    await waitForHttp(`${nearUrl}/readyz`, (status) => status === 200, 60_000);
    const loadCodes = spread(seed.live, s.loadCodes);
    console.log(`purge: warming ${loadCodes.length} live codes and ${seed.hot.length} hot ones`);
    await warmSharedCache(`127.0.0.1:${linkPort}`, loadCodes);
    const hot = seed.hot.map((link) => link.code);
    const nearOnly = hot.slice(Math.floor(hot.length / 2));
    const shared = hot.slice(0, Math.floor(hot.length / 2));
    const warmed = tally([...(await answers(nearUrl, hot)), ...(await answers(loadUrl, shared))]);
    if (Object.keys(warmed).some((status) => status !== '302'))
      throw new Error(`warming hot codes answered ${JSON.stringify(warmed)}`);
    await dropSharedEntries(s, nearOnly);
    await expireBehindTheCaches(databaseUrl, seed.hot);
    const before = {
      nearCache: tally(await answers(nearUrl, nearOnly)),
      sharedCache: tally(await answers(loadUrl, shared)),
      sharedEntries: await sharedEntries(s, shared),
    };
    const pathsFile = join(s.workDir, 'purge-paths.txt');
    writeFileSync(pathsFile, `${loadCodes.map((code) => `/${code}`).join('\n')}\n`);
    if (Date.now() > at(plan.probeAt))
      throw new Error(
        `purge: preparing took over BENCH_PURGE_PREP (${s.prepSeconds} s); raise it, the sweep is set by it`,
      );

    const run = async (startAt: number, load: RateLoad) => {
      await sleep(at(startAt) - Date.now());
      const cpuBefore = Object.fromEntries(
        Object.entries(pids).map(([k, p]) => [k, cpuSeconds(p)]),
      );
      const machineBefore = machineCpuSeconds();
      const result = await runRateLoad(loadUrl, pathsFile, load, s.nodeFlags);
      const cpu = Object.fromEntries(
        Object.entries(pids).map(([k, p]) => [k, cpuSeconds(p) - (cpuBefore[k] ?? 0)]),
      );
      cpu['whole machine'] = machineCpuSeconds() - machineBefore;
      return { result, cpu };
    };
    const shape = { connections: s.connections, warmupSeconds: s.warmupSeconds };
    const probe = await run(plan.probeAt, {
      ...shape,
      warmupSeconds: 0,
      durationSeconds: s.probeSeconds,
      rate: 0,
    });
    const rate = Math.max(1, Math.floor(probe.result.requestsPerSecond / 2));
    console.log(
      `purge: maximum ${probe.result.requestsPerSecond.toFixed(0)} req/s; offering ${rate}`,
    );
    const offered = { ...shape, durationSeconds: s.durationSeconds, rate };
    const baseline = await run(plan.baselineAt, offered);
    report('without the purge', baseline.result);
    await sleep(at(plan.purgeRunAt) - Date.now() - 1_000);
    watch = await watchPurge(s);
    const during = await run(plan.purgeRunAt, offered);
    report('during the purge', during.result);
    const waitUntil = Date.now() + s.purgeWaitSeconds * 1_000;
    while (Number.isNaN(watch.doneAt) && Date.now() < waitUntil) await sleep(250);
    await watch.stop();
    const machine = `${cpus().length} cores; load average before seeding ${idleLoad}, after the runs ${loadAverage()}`;
    const left = await leftOver(s, seed);
    const purged = seed.expired.map((link) => link.code);
    const entriesAfter = await sharedEntries(s, purged);
    const hotSet = new Set(hot);
    const others = spread(
      purged.filter((code) => !hotSet.has(code)),
      s.checkSample,
    );
    const after = {
      sharedEntries: entriesAfter,
      nearGateway: tally(await answers(nearUrl, [...hot, ...others])),
      loadGateway: tally(await answers(loadUrl, [...hot, ...others])),
      sampled: others.length,
    };
    return {
      live: s.live,
      expired: s.expired,
      hot: s.hot,
      loadCodes: loadCodes.length,
      seedSeconds: seed.seconds,
      sweep: s.sweep,
      connections: s.connections,
      times,
      probe: probe.result,
      rate,
      baseline: baseline.result,
      during: during.result,
      baselineCpu: baseline.cpu,
      duringCpu: during.cpu,
      purgeFirstSeenAt: watch.firstSeenAt,
      purgeDoneAt: watch.doneAt,
      ...left,
      before,
      after,
      machine,
    };
  } finally {
    await watch?.stop().catch(() => {});
    await stopProcess(nearGateway);
    await stopProcess(loadGateway);
    await stopProcess(link);
    await removeTopology(topologyOf(s.bus), s.rabbitmqUrl).catch((error: unknown) =>
      console.error('could not remove the bus', error),
    );
  }
}

function report(name: string, r: RateResult): void {
  console.log(
    `purge · ${name}: ${r.requestsPerSecond.toFixed(0)} req/s, p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, errors ${r.errors}`,
  );
}
