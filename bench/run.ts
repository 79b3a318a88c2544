// npm run bench: the redirect path of the mesh (gateway and link as separate
// processes, on MariaDB and Redis, with click recording on RabbitMQ into the
// analytics service, or without) against a single-process node:http server
// answering from Redis, with the same load generator and settings, in one run.
// With clicks recorded it also counts the visits stored against the redirects
// answered, and how long the last one took to land. Then the click pipeline
// on its own, a plain-INSERT reference and GetLinkStats on a big link
// (bench/pipeline.ts).
// Then link creation through the API against a node:http server doing one
// INSERT and one Redis SET per create (bench/creation.ts). Then live
// redirects at half their maximum rate with and without the sweeper purging
// expired links among a million live ones (bench/purge.ts).
// Writes docs/benchmarks/<date>-redirects.md (<date>-pipeline.md,
// <date>-creation.md or <date>-purge.md for that section alone).
//
// Settings (environment): BENCH_MYSQL_URL (mysql://root@127.0.0.1:3306),
// BENCH_REDIS_URL (redis://127.0.0.1:6379), BENCH_RABBITMQ_URL
// (amqp://guest:guest@127.0.0.1:5672), BENCH_DURATION (10), BENCH_WARMUP (3),
// BENCH_CONNECTIONS (64), BENCH_ROUNDS (3), BENCH_SCENARIOS (e.g. `1,2`: only
// those redirect scenarios, numbered as listed below); BENCH_ONLY (`redirects`,
// `pipeline`, `creation` or `purge`: one section; all unless set), BENCH_CREATION_CALLERS (8), BENCH_PIPELINE_CLICKS (200000),
// BENCH_STATS_VISITS (1000000), BENCH_STATS_CALLS (500); for the purge:
// BENCH_PURGE_LIVE (1000000), BENCH_PURGE_EXPIRED (100000), BENCH_PURGE_HOT
// (1000, of the expired), BENCH_PURGE_LOAD_CODES (100000), BENCH_PURGE_CHECK
// (5000), BENCH_PURGE_PREP (90), BENCH_PURGE_PROBE (5), BENCH_PURGE_WARMUP (5),
// BENCH_PURGE_DURATION (30), BENCH_PURGE_WAIT (300), seconds for the last five;
// BENCH_PURGE_CHUNK (50), BENCH_PURGE_PARALLEL (3), BENCH_PURGE_RATE (1000; 0: unpaced)
// for the sweeper.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { createConnection } from 'mysql2/promise';
import { LinkServiceClient, LinkServiceService } from '../gen/shortener/v1/link.ts';
import { busSettings } from '../lib/bus/config.ts';
import { openBus, topologyOf } from '../lib/bus/open.ts';
import { loadConfig } from '../lib/config/load.ts';
import { openDatabase } from '../lib/db/open.ts';
import { connect, promiseClient } from '../lib/grpc/client.ts';
import { createLogger } from '../lib/log.ts';
import { randomCode } from '../services/link/domain/short-code.ts';
import { linkSchema } from '../services/link/store/schema.ts';
import { removeTopology } from '../test/support/bus.ts';
import { freePort } from '../test/support/ports.ts';
import { recorderBacklog, recorderQueue, waitForStored } from './backlog.ts';
import type { ClickedLink } from './clicks.ts';
import { type CreationResult, creationSection, renderCreation } from './creation.ts';
import { type PipelineSection, runPipelineSection } from './pipeline.ts';
import {
  cpuSeconds,
  startProcess,
  startScriptArgs,
  stopProcess,
  waitForHttp,
} from './processes.ts';
import { type PurgeSettings, purgeSection } from './purge.ts';
import { type PurgeResult, renderPurge } from './purge-report.ts';
import {
  type BaselineWait,
  type Headroom,
  type Measurement,
  type PipelineResult,
  renderReport,
  type Scenario,
  type TracingExports,
} from './report.ts';
import { type LoadSettings, runWrk, wrkVersion } from './wrk.ts';

const env = process.env;
const MYSQL_URL = env.BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';
const REDIS_URL = env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
/**
 * CPU priority of the click consumers (analytics) while redirects are
 * measured: on a host they share with the redirect path, background work
 * yields the CPU to redirects and catches up after (the drain figures show
 * what that costs). 0 runs them at the redirect path's priority.
 */
const CONSUMER_NICENESS = Number(process.env.BENCH_CONSUMER_NICENESS ?? 10);

const settings: LoadSettings = {
  connections: Number(env.BENCH_CONNECTIONS ?? 64),
  threads: 1,
  durationSeconds: Number(env.BENCH_DURATION ?? 10),
};
const warmupSeconds = Number(env.BENCH_WARMUP ?? 3);
const rounds = Number(env.BENCH_ROUNDS ?? 3);
const only = env.BENCH_ONLY ?? '';
if (!['', 'redirects', 'pipeline', 'creation', 'purge'].includes(only)) {
  throw new Error(`BENCH_ONLY must be redirects, pipeline, creation or purge, not ${only}`);
}
const creationCallers = Number(env.BENCH_CREATION_CALLERS ?? 8);
const pipelineSettings = {
  clicks: Number(env.BENCH_PIPELINE_CLICKS ?? 200_000),
  batchSize: 500,
  waitSeconds: 240,
  statsVisits: Number(env.BENCH_STATS_VISITS ?? 1_000_000),
  statsBatch: 4_000,
  statsCalls: Number(env.BENCH_STATS_CALLS ?? 500),
  statsConcurrency: 4,
};

const HOT = 'Hot set: 10,000 codes, gateway near cache on';
const WIDE = 'Wide set: 200,000 codes, near cache off (every redirect crosses gRPC)';
const SCENARIOS: Scenario[] = [
  // Each set's variants right after one another, so that the machine's drift
  // over a run falls between them as little as possible (report.ts compares
  // each with tracing or metrics on against its twin with both off).
  {
    name: `${HOT}, clicks recorded`,
    codes: 10_000,
    nearCache: true,
    recordClicks: true,
    target: 0.9,
  },
  // Tracing on: the default sampler, exporting to bench/otlp-receiver.ts.
  {
    name: `${HOT}, clicks recorded, tracing on`,
    codes: 10_000,
    nearCache: true,
    recordClicks: true,
    tracing: true,
    target: 0.81,
  },
  {
    name: `${HOT}, clicks recorded, metrics on`,
    codes: 10_000,
    nearCache: true,
    recordClicks: true,
    target: 0.9,
    metrics: true,
  },
  // Everything on: the floor holds for the whole product.
  {
    name: `${HOT}, clicks recorded, tracing and metrics on`,
    codes: 10_000,
    nearCache: true,
    recordClicks: true,
    tracing: true,
    metrics: true,
    target: 0.9,
  },
  {
    name: `${HOT}, clicks not recorded`,
    codes: 10_000,
    nearCache: true,
    recordClicks: false,
    target: 0.4,
  },
  // The redirect path's own cost of tracing and metrics, with no click
  // consumers competing for the two cores (their share is in the twins above).
  {
    name: `${HOT}, clicks not recorded, tracing on`,
    codes: 10_000,
    nearCache: true,
    recordClicks: false,
    tracing: true,
    target: 0.4,
  },
  {
    name: `${HOT}, clicks not recorded, metrics on`,
    codes: 10_000,
    nearCache: true,
    recordClicks: false,
    target: 0.4,
    metrics: true,
  },
  {
    name: `${WIDE}, clicks recorded`,
    codes: 200_000,
    nearCache: false,
    recordClicks: true,
    target: 0.25,
  },
  {
    name: `${WIDE}, clicks recorded, tracing on`,
    codes: 200_000,
    nearCache: false,
    recordClicks: true,
    tracing: true,
    target: 0.22,
  },
  {
    name: `${WIDE}, clicks recorded, metrics on`,
    codes: 200_000,
    nearCache: false,
    recordClicks: true,
    target: 0.25,
    metrics: true,
  },
  {
    name: `${WIDE}, clicks not recorded`,
    codes: 200_000,
    nearCache: false,
    recordClicks: false,
    target: 0.25,
  },
];
/** BENCH_SCENARIOS: a comma list of scenario numbers (1 = the first above) to run only those. */
const chosenScenarios = (env.BENCH_SCENARIOS ?? '')
  .split(',')
  .filter((part) => part.trim() !== '')
  .map(Number);
const RUN_SCENARIOS =
  chosenScenarios.length === 0
    ? SCENARIOS
    : SCENARIOS.filter((_, index) => chosenScenarios.includes(index + 1));
const RABBITMQ_URL = env.BENCH_RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

const log = createLogger('bench', 'warn');
const run = `${Date.now().toString(36)}`;
const database = `shortener_bench_${run}`;
const prefix = `bench:${run}:`;
const work = mkdtempSync(join(tmpdir(), 'bench-'));

interface Seeded {
  codes: string[];
  targets: Map<string, string>;
  /** Every seeded link, as a click names it. */
  links: ClickedLink[];
  /** A link of another owner, with no clicks of the redirect scenarios: GetLinkStats asks about it. */
  statsLink: ClickedLink;
}

const OWNER = '118000000000000000';
const linkId = (i: number) => (118000000000000000n + BigInt(i + 1)).toString();

async function ensureWrk(): Promise<string> {
  let version = await wrkVersion();
  if (!version && process.getuid?.() === 0) {
    console.log('wrk not found; installing it from the Debian packages (apt-get install -y wrk)');
    try {
      execFileSync('apt-get', ['install', '-y', '-q', 'wrk'], { stdio: 'inherit' });
    } catch {
      execFileSync('apt-get', ['update', '-q'], { stdio: 'inherit' });
      execFileSync('apt-get', ['install', '-y', '-q', 'wrk'], { stdio: 'inherit' });
    }
    version = await wrkVersion();
  }
  if (!version) throw new Error('wrk is required: install it (Debian/Ubuntu: apt-get install wrk)');
  return version;
}

async function seed(count: number): Promise<Seeded> {
  console.log(`seeding ${count} links into ${database} and the baseline's Redis keys`);
  const orm = await openDatabase({
    url: `${MYSQL_URL}/${database}`,
    schema: linkSchema,
    log,
  });
  await orm.close();
  const codes: string[] = [];
  const seen = new Set<string>();
  // One more than asked: the last one is the stats link.
  while (codes.length < count + 1) {
    const code = randomCode(7);
    if (!seen.has(code)) {
      seen.add(code);
      codes.push(code);
    }
  }
  const statsCode = codes.pop() as string;
  const targets = new Map(
    codes.map((code, i) => [code, `https://example.com/bench/${i}?ref=${code}`]),
  );
  const db = await createConnection({ uri: `${MYSQL_URL}/${database}` });
  const owner = OWNER;
  const now = new Date();
  for (let i = 0; i < codes.length; i += 5_000) {
    const rows = codes
      .slice(i, i + 5_000)
      .map((code, j) => [linkId(i + j), code, targets.get(code), null, owner, now, null, null]);
    await db.query(
      'INSERT INTO links (id, code, target_url, url_hash, owner_id, created_at, expires_at, deleted_at) VALUES ?',
      [rows],
    );
  }
  const statsLink = { id: linkId(count), code: statsCode, ownerId: '118000000000000001' };
  await db.query(
    'INSERT INTO links (id, code, target_url, url_hash, owner_id, created_at, expires_at, deleted_at) VALUES ?',
    [
      [
        [
          statsLink.id,
          statsCode,
          'https://example.com/bench/stats',
          null,
          statsLink.ownerId,
          now,
          null,
          null,
        ],
      ],
    ],
  );
  await db.end();
  const redis = new Redis(REDIS_URL);
  for (let i = 0; i < codes.length; i += 10_000) {
    const pipeline = redis.pipeline();
    for (const code of codes.slice(i, i + 10_000))
      pipeline.set(`${prefix}base:${code}`, targets.get(code) as string);
    await pipeline.exec();
  }
  redis.disconnect();
  const links = codes.map((code, i) => ({ id: linkId(i), code, ownerId: owner }));
  return { codes, targets, links, statsLink };
}

async function warmLinkCache(linkAddress: string, codes: string[]): Promise<void> {
  const client = promiseClient(connect(LinkServiceClient, linkAddress, 30_000), LinkServiceService);
  for (let i = 0; i < codes.length; i += 1_000) {
    const batch = codes.slice(i, i + 1_000).map((code) => ({ code, head: false }));
    const { results } = await client.resolveLinks({ items: batch });
    if (results.some((r) => r.status !== 1))
      throw new Error('warming: a seeded code did not resolve');
  }
}

async function checkAnswers(base: string, seeded: Seeded, codes: string[]): Promise<void> {
  for (const code of codes.slice(0, 50)) {
    const response = await fetch(`${base}/${code}`, { redirect: 'manual' });
    await response.arrayBuffer();
    if (response.status !== 302 || response.headers.get('location') !== seeded.targets.get(code)) {
      throw new Error(
        `${base}/${code} answered ${response.status} ${response.headers.get('location')}`,
      );
    }
  }
}

async function redisPid(): Promise<number | undefined> {
  const redis = new Redis(REDIS_URL);
  const info = await redis.info('server');
  redis.disconnect();
  const pid = /process_id:(\d+)/.exec(info)?.[1];
  return pid ? Number(pid) : undefined;
}

async function measure(
  url: string,
  pathsFile: string,
  pids: Record<string, number | undefined>,
): Promise<{
  result: Awaited<ReturnType<typeof runWrk>>;
  cpu: Record<string, number>;
  /** Requests answered, the warm-up's included. */
  answered: number;
}> {
  const warmup = await runWrk(
    url,
    pathsFile,
    { ...settings, durationSeconds: warmupSeconds },
    work,
  );
  const before = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid)]));
  const result = await runWrk(url, pathsFile, settings, work);
  const cpu = Object.fromEntries(
    Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid) - (before[k] ?? 0)]),
  );
  return {
    result,
    cpu,
    answered: warmup.requests - warmup.errors + result.requests - result.errors,
  };
}

/** The bus settings of one scenario: its own exchange and queues on the local RabbitMQ. */
/** What link and analytics share in every section: Redis, link's database, the section's bus. */
function sharedEnv(bus: { exchange: string; queuePrefix: string }): Record<string, string> {
  return {
    REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    LINK_DATABASE_URL: `${MYSQL_URL}/${database}`,
    RABBITMQ_URL,
    BUS_EXCHANGE: bus.exchange,
    BUS_QUEUE_PREFIX: bus.queuePrefix,
    // Off unless a scenario measures them: no process binds a default port.
    GATEWAY_METRICS_LISTEN: 'off',
    LINK_METRICS_LISTEN: 'off',
    ANALYTICS_METRICS_LISTEN: 'off',
  };
}

function busOf(scenario: number | string) {
  return loadConfig(
    { bus: busSettings },
    {
      RABBITMQ_URL,
      BUS_EXCHANGE: `bench.${run}.events`,
      BUS_QUEUE_PREFIX: `bench.${run}.${scenario}.`,
    },
  ).bus;
}

const DRAIN_WAIT_S = 120;
/** A full-speed run (warm-up and one measurement) should be stored within this after it ends. */
const DRAIN_TARGET_S = 30;

async function cleanup(): Promise<void> {
  const db = await createConnection({ uri: MYSQL_URL });
  await db.query(`DROP DATABASE IF EXISTS \`${database}\``);
  for (let i = 0; i < SCENARIOS.length; i++) {
    await db.query(`DROP DATABASE IF EXISTS \`${database}_analytics_${i}\``);
  }
  await db.query(`DROP DATABASE IF EXISTS \`${database}_analytics_pipeline\``);
  await db.query(`DROP DATABASE IF EXISTS \`${database}_purge\``);
  await db.end();
  const redis = new Redis(REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 10_000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
  redis.disconnect();
}

/**
 * Each process's metrics endpoint: off, or on a free port and scraped every
 * second (gateway and link, the redirect path) while the scenario runs.
 */
async function metricsEndpoints(on: boolean) {
  const ports = { gateway: await freePort(), link: await freePort(), analytics: await freePort() };
  const at = (port: number) => (on ? `127.0.0.1:${port}` : 'off');
  let timer: NodeJS.Timeout | undefined;
  let scraping: Promise<unknown> = Promise.resolve();
  const scrapeOnce = () =>
    Promise.all(
      [ports.gateway, ports.link].map((port) =>
        fetch(`http://127.0.0.1:${port}/metrics`).then(
          (r) => r.text(),
          () => '',
        ),
      ),
    );
  return {
    env: {
      GATEWAY_METRICS_LISTEN: at(ports.gateway),
      LINK_METRICS_LISTEN: at(ports.link),
      ANALYTICS_METRICS_LISTEN: at(ports.analytics),
    },
    startScraping() {
      if (!on) return;
      timer = setInterval(() => {
        scraping = scrapeOnce();
      }, 1_000);
    },
    async stopScraping() {
      clearInterval(timer);
      await scraping;
    },
  };
}

/** The node flags of the gateway's npm start script (the redirect path's), without the telemetry preload. */
function nodeFlagsOfServices(): string[] {
  const gatewayArgs = startScriptArgs('start:gateway');
  return gatewayArgs.slice(0, gatewayArgs.indexOf('--import'));
}

/** The OpenTelemetry settings of a scenario's processes: exporting to the receiver, or not at all. */
function tracingEnv(scenario: Scenario, receiverUrl: string): Record<string, string> {
  if (scenario.tracing) return { OTEL_EXPORTER_OTLP_ENDPOINT: receiverUrl };
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: '',
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '',
    OTEL_TRACES_EXPORTER: '',
  };
}

async function exportCounts(receiverUrl: string): Promise<{ exports: number; bytes: number }> {
  const answer = await fetch(`${receiverUrl}/counts`);
  return (await answer.json()) as { exports: number; bytes: number };
}

async function redirectScenarios(seeded: Seeded): Promise<{
  measurements: Measurement[];
  pipeline: PipelineResult[];
  exports: TracingExports[];
  settled: BaselineWait[];
  headroom?: Headroom | undefined;
}> {
  const redis = await redisPid();
  const measurements: Measurement[] = [];
  const pipeline: PipelineResult[] = [];
  const exports: TracingExports[] = [];
  const settled: BaselineWait[] = [];
  const receiverPort = await freePort();
  const receiverUrl = `http://127.0.0.1:${receiverPort}`;
  const receiver = startProcess(
    'otlp-receiver',
    [...nodeFlagsOfServices(), 'bench/otlp-receiver.ts', String(receiverPort)],
    {},
  );
  const basePort = await freePort();
  // The baseline runs under the same node flags as the gateway (GC settings
  // included), without the telemetry preload, which it has no use for.
  const baseline = startProcess(
    'baseline',
    [
      ...nodeFlagsOfServices(),
      'bench/baseline-server.ts',
      REDIS_URL,
      `${prefix}base:`,
      String(basePort),
    ],
    {},
  );
  const baseUrl = `http://127.0.0.1:${basePort}`;
  await waitForHttp(`${baseUrl}/-`, (status) => status === 404);
  await checkAnswers(baseUrl, seeded, seeded.codes);
  let headroom: Headroom | undefined;
  try {
    if (RUN_SCENARIOS.some((s) => s.recordClicks))
      headroom = await measureHeadroom(baseUrl, baseline.pid, redis, seeded.codes);
    for (const [index, scenario] of RUN_SCENARIOS.entries()) {
      const codes = seeded.codes.slice(0, scenario.codes);
      const pathsFile = join(work, `paths-${scenario.codes}.txt`);
      writeFileSync(pathsFile, `${codes.map((c) => `/${c}`).join('\n')}\n`);

      const linkPort = await freePort();
      const gatewayPort = await freePort();
      const bus = busOf(index);
      const analyticsDatabase = `${MYSQL_URL}/${database}_analytics_${index}`;
      const metrics = await metricsEndpoints(scenario.metrics === true);
      const common = { ...sharedEnv(bus), ...metrics.env, ...tracingEnv(scenario, receiverUrl) };
      const link = startProcess('link', startScriptArgs('start:link'), {
        ...common,
        LINK_GRPC_LISTEN: `127.0.0.1:${linkPort}`,
      });
      // Every consumer runs throughout when clicks are recorded.
      const analytics = scenario.recordClicks
        ? startProcess(
            'analytics',
            startScriptArgs('start:analytics'),
            {
              ...common,
              ANALYTICS_GRPC_LISTEN: `127.0.0.1:${await freePort()}`,
              ANALYTICS_DATABASE_URL: analyticsDatabase,
              ANALYTICS_LINK_GRPC_TARGET: `127.0.0.1:${linkPort}`,
            },
            { niceness: CONSUMER_NICENESS },
          )
        : undefined;
      const gateway = startProcess('gateway', startScriptArgs('start:gateway'), {
        ...common,
        GATEWAY_LISTEN: `127.0.0.1:${gatewayPort}`,
        LINK_GRPC_TARGET: `127.0.0.1:${linkPort}`,
        IDENTITY_GRPC_TARGET: '127.0.0.1:1',
        NEAR_CACHE_SIZE: scenario.nearCache ? '100000' : '0',
        CLICKS_RECORD: String(scenario.recordClicks),
      });
      const meshUrl = `http://127.0.0.1:${gatewayPort}`;
      // checkAnswers' own GET redirects are clicks too.
      let answered = 50;
      let loadStarted = 0;
      try {
        await waitForHttp(`${meshUrl}/readyz`, (status) => status === 200);
        console.log(`${scenario.name}: warming the link cache`);
        await warmLinkCache(`127.0.0.1:${linkPort}`, codes);
        loadStarted = performance.now();
        await checkAnswers(meshUrl, seeded, codes);
        metrics.startScraping();
        const exportedBefore = await exportCounts(receiverUrl);
        for (let round = 1; round <= rounds; round++) {
          for (const [server, url] of [
            ['baseline', baseUrl],
            ['mesh', meshUrl],
          ] as const) {
            // The baseline runs on a quiet machine: the backlog earlier mesh
            // rounds left the consumers is stored first, not drained beside it.
            if (server === 'baseline' && scenario.recordClicks && round > 1) {
              const { seconds } = await waitForStored({
                databaseUrl: analyticsDatabase,
                bus,
                rabbitmqUrl: RABBITMQ_URL,
                expected: answered,
                waitMs: DRAIN_WAIT_S * 1_000,
              });
              settled.push({ scenario: scenario.name, round, seconds });
            }
            // Everything the click pipeline runs on, too: where the CPU the gateway lacks went.
            const pids = {
              gateway: gateway.pid,
              link: link.pid,
              analytics: analytics?.pid,
              baseline: baseline.pid,
              redis,
              mariadb: await mariadbPid(),
              rabbitmq: pidOf('beam.smp'),
            };
            const { result, cpu, answered: served } = await measure(url, pathsFile, pids);
            if (server === 'mesh') answered += served;
            console.log(
              `${scenario.name} · round ${round} · ${server}: ${result.requestsPerSecond.toFixed(0)} req/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, errors ${result.errors}`,
            );
            measurements.push({ scenario: scenario.name, server, round, result, cpu });
          }
        }
        if (scenario.tracing) {
          const after = await exportCounts(receiverUrl);
          exports.push({
            scenario: scenario.name,
            exports: after.exports - exportedBefore.exports,
            bytes: after.bytes - exportedBefore.bytes,
          });
        }
        if (scenario.recordClicks) {
          const { stored, seconds } = await waitForStored({
            databaseUrl: analyticsDatabase,
            bus,
            rabbitmqUrl: RABBITMQ_URL,
            expected: answered,
            waitMs: DRAIN_WAIT_S * 1_000,
          });
          // The gateway publishes what it still holds; analytics hands back what it had taken.
          await stopProcess(gateway);
          if (analytics) await stopProcess(analytics);
          const queues = await recorderBacklog(bus, RABBITMQ_URL);
          console.log(
            `${scenario.name}: ${stored} of ${answered} clicks stored, ${seconds.toFixed(1)} s after the load; ${queues.queuedClicks} clicks still queued, ${queues.deadLetters} dead-lettered`,
          );
          const storedPerSecond = stored / ((performance.now() - loadStarted) / 1_000);
          pipeline.push({
            scenario: scenario.name,
            answered,
            stored,
            drainSeconds: seconds,
            waitedSeconds: DRAIN_WAIT_S,
            storedPerSecond,
            ...queues,
          });
        }
      } finally {
        await metrics.stopScraping();
        await stopProcess(gateway);
        if (analytics) await stopProcess(analytics);
        await stopProcess(link);
        await removeTopology(topologyOf(bus), RABBITMQ_URL).catch((error: unknown) =>
          console.error('could not remove the bus', error),
        );
      }
    }
  } finally {
    await stopProcess(baseline);
    await stopProcess(receiver);
  }
  return { measurements, pipeline, exports, settled, headroom };
}

function commandExists(command: string): boolean {
  try {
    execFileSync(command, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Codes of the hot set, whose load the headroom probe offers the baseline. */
const HEADROOM_CODES = 10_000;

/**
 * The baseline alone, then beside a process that only spins at the click
 * consumers' niceness, then beside one in the idle scheduling class, each
 * round: what a spinning background process costs the redirect rate here.
 */
async function measureHeadroom(
  baseUrl: string,
  baselinePid: number | undefined,
  redis: number | undefined,
  seededCodes: string[],
): Promise<Headroom> {
  const pathsFile = join(work, 'paths-headroom.txt');
  const codes = seededCodes.slice(0, HEADROOM_CODES);
  writeFileSync(pathsFile, `${codes.map((c) => `/${c}`).join('\n')}\n`);
  const result: Headroom = {
    codes: codes.length,
    niceness: CONSUMER_NICENESS,
    seconds: settings.durationSeconds,
    rounds: [],
  };
  // SCHED_IDLE needs chrt (util-linux); without it the probe runs at niceness alone.
  const idleClass = commandExists('chrt');
  const besideSpinner = async (schedule: { niceness?: number; idleClass?: boolean }) => {
    const spinner = startProcess('spinner', ['-e', 'for (;;) {}'], {}, schedule);
    try {
      const { result, cpu } = await measure(baseUrl, pathsFile, { spinner: spinner.pid });
      return { result, spinnerCpu: cpu.spinner ?? Number.NaN };
    } finally {
      await stopProcess(spinner);
    }
  };
  for (let round = 1; round <= rounds; round++) {
    const alone = (await measure(baseUrl, pathsFile, { baseline: baselinePid, redis })).result;
    const niced = await besideSpinner({ niceness: CONSUMER_NICENESS });
    const idle = idleClass ? await besideSpinner({ idleClass: true }) : undefined;
    console.log(
      `headroom · round ${round}: ${alone.requestsPerSecond.toFixed(0)} req/s alone, ${niced.result.requestsPerSecond.toFixed(0)} beside a spinner at niceness ${CONSUMER_NICENESS}${idle ? `, ${idle.result.requestsPerSecond.toFixed(0)} beside an idle-class one` : ''}`,
    );
    result.rounds.push({ round, alone, niced, idle });
  }
  return result;
}

/** Link and analytics on a bus and database of their own, and the pipeline section against them. */
async function pipelineSection(seeded: Seeded): Promise<PipelineSection> {
  const linkPort = await freePort();
  const analyticsPort = await freePort();
  const bus = busOf('pipeline');
  const analyticsDatabaseUrl = `${MYSQL_URL}/${database}_analytics_pipeline`;
  const common = sharedEnv(bus);
  const link = startProcess('link', startScriptArgs('start:link'), {
    ...common,
    LINK_GRPC_LISTEN: `127.0.0.1:${linkPort}`,
  });
  const analytics = startProcess('analytics', startScriptArgs('start:analytics'), {
    ...common,
    ANALYTICS_GRPC_LISTEN: `127.0.0.1:${analyticsPort}`,
    ANALYTICS_DATABASE_URL: analyticsDatabaseUrl,
    ANALYTICS_LINK_GRPC_TARGET: `127.0.0.1:${linkPort}`,
  });
  const publisher = openBus(bus, log);
  const queue = await recorderQueue(bus, RABBITMQ_URL);
  try {
    return await runPipelineSection(
      {
        analyticsDatabaseUrl,
        analyticsAddress: `127.0.0.1:${analyticsPort}`,
        bus: publisher,
        links: seeded.links,
        statsLink: seeded.statsLink,
        log,
        ready: () => queue.ready(),
        pids: {
          analytics: analytics.pid,
          link: link.pid,
          bench: process.pid,
          mariadb: await mariadbPid(),
          rabbitmq: pidOf('beam.smp'),
          redis: await redisPid(),
        },
      },
      pipelineSettings,
    );
  } finally {
    await queue.close();
    await publisher.close();
    await stopProcess(analytics);
    await stopProcess(link);
    await removeTopology(topologyOf(bus), RABBITMQ_URL).catch((error: unknown) =>
      console.error('could not remove the bus', error),
    );
  }
}

/** The first process of that name (the machine's MariaDB, the broker's Erlang VM). */
function pidOf(name: string): number | undefined {
  try {
    const pid = execFileSync('pidof', [name], { encoding: 'utf8' }).trim().split(' ')[0];
    return pid ? Number(pid) : undefined;
  } catch {
    return undefined;
  }
}

async function mariadbPid(): Promise<number | undefined> {
  return pidOf('mariadbd');
}

async function creationSettings() {
  return {
    redisPid: await redisPid(),
    mariadbPid: await mariadbPid(),
    mysqlUrl: MYSQL_URL,
    database,
    redisUrl: REDIS_URL,
    prefix,
    load: settings,
    warmupSeconds,
    callers: creationCallers,
    nodeFlags: nodeFlagsOfServices(),
    workDir: work,
  };
}

function purgeSettings(): PurgeSettings {
  const n = (name: string, fallback: number) => Number(env[name] ?? fallback);
  return {
    mysqlUrl: MYSQL_URL,
    database: `${database}_purge`,
    redisUrl: REDIS_URL,
    prefix: `${prefix}purge:`,
    rabbitmqUrl: RABBITMQ_URL,
    bus: busOf('purge'),
    live: n('BENCH_PURGE_LIVE', 1_000_000),
    expired: n('BENCH_PURGE_EXPIRED', 100_000),
    hot: n('BENCH_PURGE_HOT', 1_000),
    loadCodes: n('BENCH_PURGE_LOAD_CODES', 100_000),
    checkSample: n('BENCH_PURGE_CHECK', 5_000),
    // The link service's defaults unless told.
    sweep: {
      chunk: n('BENCH_PURGE_CHUNK', 50),
      parallel: n('BENCH_PURGE_PARALLEL', 3),
      rate: n('BENCH_PURGE_RATE', 1_000),
    },
    connections: settings.connections,
    prepSeconds: n('BENCH_PURGE_PREP', 90),
    probeSeconds: n('BENCH_PURGE_PROBE', 5),
    warmupSeconds: n('BENCH_PURGE_WARMUP', 5),
    durationSeconds: n('BENCH_PURGE_DURATION', 30),
    purgeWaitSeconds: n('BENCH_PURGE_WAIT', 300),
    nodeFlags: nodeFlagsOfServices(),
    workDir: work,
    pids: {},
    log,
  };
}

async function purgeRun(): Promise<PurgeResult> {
  return purgeSection({
    ...purgeSettings(),
    pids: { mariadb: await mariadbPid(), redis: await redisPid() },
  });
}

async function main(): Promise<void> {
  if (only === 'purge') return purgeAlone();
  const generator = only === 'pipeline' ? '' : await ensureWrk();
  const seeded = await seed(Math.max(...SCENARIOS.map((s) => s.codes)));
  let redirects: Awaited<ReturnType<typeof redirectScenarios>> = {
    measurements: [],
    pipeline: [],
    exports: [],
    settled: [],
  };
  let section: PipelineSection | undefined;
  let creation: CreationResult | undefined;
  let purge: PurgeResult | undefined;
  try {
    // The pipeline first, on a machine the redirect scenarios have not yet loaded.
    if (only === '' || only === 'pipeline') section = await pipelineSection(seeded);
    if (only === '' || only === 'redirects') redirects = await redirectScenarios(seeded);
    // Last: it adds links to the table the redirect scenarios read.
    if (only === '' || only === 'creation')
      creation = await creationSection(await creationSettings());
    // On a table of its own, a million links large.
    if (only === '') purge = await purgeRun();
  } finally {
    await cleanup();
  }

  const date = new Date();
  const dir = new URL('../docs/benchmarks/', import.meta.url).pathname;
  mkdirSync(dir, { recursive: true });
  const creationText = creation ? renderCreation(creation, await creationSettings()) : '';
  if (only === 'creation') {
    const file = join(dir, `${date.toISOString().slice(0, 10)}-creation.md`);
    const text = `# Benchmark: link creation, ${date.toISOString().slice(0, 10)}\n\n${generator}\n\n${creationText}`;
    writeFileSync(file, text);
    console.log(`\nreport written to ${file}\n`);
    console.log(text);
    return;
  }
  const report = renderReport({
    date,
    generator,
    nodeFlags: nodeFlagsOfServices(),
    settings,
    warmupSeconds,
    scenarios: only === 'pipeline' ? [] : RUN_SCENARIOS,
    measurements: redirects.measurements,
    pipeline: redirects.pipeline,
    tracingExports: redirects.exports,
    baselineWaits: redirects.settled,
    headroom: redirects.headroom,
    drainTargetSeconds: DRAIN_TARGET_S,
    section,
    notes: [
      'Absolute rates drift between runs on this shared machine (the same baseline has measured anywhere from about 45,000 to 56,000 requests/s on one day); compare shares within one report, not numbers across reports.',
      ...(only === 'pipeline'
        ? []
        : [
            'Without the near cache, four busy processes (wrk, gateway, link, Redis) share two cores; the tail above p90 is mostly waiting for a CPU and garbage-collection pauses, not the gRPC hop itself (its round trip has a p99 near 5 ms). See docs/decisions/0003-redirect-path.md.',
            'Click recording costs the difference between each pair of scenarios (recorded and not, same set, same run); the target for the hot set with clicks recorded is 0.90 of the baseline.',
            'Tracing scenarios run every process with OTEL_EXPORTER_OTLP_ENDPOINT set to a receiver process on the machine (bench/otlp-receiver.ts) and the default sampler (parent-based, 1% of new traces; wrk sends no traceparent); the others run with tracing off. Tracing costs the difference to the twin scenario without it (the same set, clicks recorded, same run).',
            `With clicks recorded, every consumer runs throughout and yields to the redirects as it does anywhere (lib/bus/yielding.ts, docs/decisions/0014-consumers-yield.md): while the gateway on this machine is busy (event loop at GATEWAY_BUSY_UTILIZATION, 80%, or more) the consumers hold their batches back, the clicks waiting in their queues, for up to BUS_YIELD_MAX_LAG (30 s) after each was published, and catch up once it is not. Analytics also runs at niceness ${CONSUMER_NICENESS} (BENCH_CONSUMER_NICENESS); MariaDB, RabbitMQ and Redis run at their usual priority.`,
          ]),
    ],
  });
  const name = only === 'pipeline' ? 'pipeline' : 'redirects';
  const file = join(dir, `${date.toISOString().slice(0, 10)}-${name}.md`);
  const text = [report, creationText, purge ? renderPurge(purge) : ''].filter(Boolean).join('\n');
  writeFileSync(file, text);
  console.log(`\nreport written to ${file}\n`);
  console.log(text);
}

async function purgeAlone(): Promise<void> {
  let purge: PurgeResult;
  try {
    purge = await purgeRun();
  } finally {
    await cleanup();
  }
  const date = new Date().toISOString().slice(0, 10);
  const dir = new URL('../docs/benchmarks/', import.meta.url).pathname;
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${date}-purge.md`);
  const text = `# Benchmark: purging expired links, ${date}\n\n${renderPurge(purge)}`;
  writeFileSync(file, text);
  console.log(`\nreport written to ${file}\n`);
  console.log(text);
}

await main();
