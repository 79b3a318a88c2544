// Link creation through the API (gateway → identity for the caller → link →
// MariaDB + Redis) against a single-process node:http server doing one INSERT
// and one Redis SET per create (creation-baseline-server.ts), on link tables
// of the same size, with the same load generator, in one run.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { freePort } from '../test/support/ports.ts';
import {
  cpuSeconds,
  startProcess,
  startScriptArgs,
  stopProcess,
  waitForHttp,
} from './processes.ts';
import { type LoadResult, type LoadSettings, runWrkScript } from './wrk.ts';

export interface CreationSettings {
  mysqlUrl: string;
  /** The link database, seeded. */
  database: string;
  redisUrl: string;
  prefix: string;
  load: LoadSettings;
  warmupSeconds: number;
  /** Guests whose tokens the load spreads over. */
  callers: number;
  nodeFlags: string[];
  workDir: string;
  redisPid: number | undefined;
  mariadbPid: number | undefined;
}

/** What the bench raises so that the limiter is not what is measured (stated in the report). */
export const CREATION_LIMITS = {
  RATE_LIMIT_CREATE_PER_PRINCIPAL: '1000000/1m',
  RATE_LIMIT_CREATE_PER_IP: '10000000/1m',
};

export interface CreationResult {
  rows: number;
  baseline: LoadResult;
  mesh: LoadResult;
  baselineCpu: Record<string, number>;
  meshCpu: Record<string, number>;
  ratio: number;
  limits: Record<string, string>;
  callers: number;
}

export const CREATION_TARGETS = { ratio: 0.5, linksPerSecond: 2_000, p99Ms: 50 };

/** POSTs a fresh URL each time, cycling over the callers' tokens. */
const POST_LUA = `
local tokens = {}
local n = 0
local run = tostring(os.time()) .. tostring(math.random(1000000))
init = function(args)
  for line in io.lines(args[1]) do tokens[#tokens + 1] = line end
end
request = function()
  n = n + 1
  local token = tokens[(n % #tokens) + 1]
  local body = '{"targetUrl":"https://example.com/created/' .. run .. '/' .. n .. '"}'
  return wrk.format("POST", "/api/v1/links", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
  }, body)
end
`;

async function rowsIn(mysqlUrl: string, table: string): Promise<number> {
  const db = await createConnection({ uri: mysqlUrl });
  const [rows] = await db.query(`SELECT COUNT(*) AS n FROM ${table}`);
  await db.end();
  return Number((rows as { n: number }[])[0]?.n ?? 0);
}

/** Guests of the mesh (retried while identity is still starting). */
async function newGuests(base: string, count: number): Promise<string[]> {
  const tokens: string[] = [];
  const start = Date.now();
  while (tokens.length < count) {
    const response = await fetch(`${base}/api/v1/guests`, { method: 'POST' }).catch(() => null);
    const body = (await response?.json().catch(() => ({}))) as { token?: string } | undefined;
    if (response?.status === 201 && body?.token) {
      tokens.push(body.token);
    } else if (Date.now() - start > 30_000) {
      throw new Error(`no guest from ${base}: ${response?.status}`);
    } else {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  return tokens;
}

type Pids = Record<string, number | undefined>;

interface Measured {
  result: LoadResult;
  /** CPU seconds each process spent in the measured run (not the warm-up). */
  cpu: Record<string, number>;
}

async function measure(
  url: string,
  tokensFile: string,
  s: CreationSettings,
  pids: Pids,
): Promise<Measured> {
  const script = join(s.workDir, 'create-links.lua');
  writeFileSync(script, POST_LUA);
  await runWrkScript(url, script, [tokensFile], { ...s.load, durationSeconds: s.warmupSeconds });
  const before = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid)]));
  const result = await runWrkScript(url, script, [tokensFile], s.load);
  const cpu = Object.fromEntries(
    Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid) - (before[k] ?? 0)]),
  );
  return { result, cpu };
}

const cpuText = (cpu: Record<string, number>) =>
  Object.entries(cpu)
    .filter(([, seconds]) => Number.isFinite(seconds))
    .map(([name, seconds]) => `${name} ${seconds.toFixed(1)} s`)
    .join(', ');

export async function creationSection(s: CreationSettings): Promise<CreationResult> {
  const linkDatabaseUrl = `${s.mysqlUrl}/${s.database}`;
  // The baseline's table: the links table's shape and rows, beside it.
  const db = await createConnection({ uri: linkDatabaseUrl });
  await db.query('CREATE TABLE baseline_links LIKE links');
  // Every stored column; a generated one (links.idle_from) takes no value.
  const [columns] = await db.query(
    `SELECT column_name AS name FROM information_schema.columns
      WHERE table_schema = DATABASE() AND table_name = 'links' AND extra NOT LIKE '%GENERATED%'
      ORDER BY ordinal_position`,
  );
  const stored = (columns as { name: string }[]).map((c) => `\`${c.name}\``).join(', ');
  await db.query(`INSERT INTO baseline_links (${stored}) SELECT ${stored} FROM links`);
  await db.end();
  const rows = await rowsIn(linkDatabaseUrl, 'links');

  const basePort = await freePort();
  const baseline = startProcess(
    'creation baseline',
    [
      ...s.nodeFlags,
      'bench/creation-baseline-server.ts',
      linkDatabaseUrl,
      'baseline_links',
      s.redisUrl,
      `${s.prefix}created:`,
      String(basePort),
    ],
    {},
  );
  const linkPort = await freePort();
  const identityPort = await freePort();
  const gatewayPort = await freePort();
  const common = {
    REDIS_URL: s.redisUrl,
    REDIS_KEY_PREFIX: s.prefix,
    CLICKS_RECORD: 'false',
    GATEWAY_METRICS_LISTEN: 'off',
    LINK_METRICS_LISTEN: 'off',
    IDENTITY_METRICS_LISTEN: 'off',
  };
  const link = startProcess('link', startScriptArgs('start:link'), {
    ...common,
    ...CREATION_LIMITS,
    LINK_DATABASE_URL: linkDatabaseUrl,
    LINK_GRPC_LISTEN: `127.0.0.1:${linkPort}`,
  });
  const identity = startProcess('identity', startScriptArgs('start:identity'), {
    ...common,
    IDENTITY_DATABASE_URL: `${s.mysqlUrl}/${s.database}_identity`,
    IDENTITY_GRPC_LISTEN: `127.0.0.1:${identityPort}`,
    IDENTITY_LINK_GRPC_TARGET: `127.0.0.1:${linkPort}`,
  });
  const gateway = startProcess('gateway', startScriptArgs('start:gateway'), {
    ...common,
    GATEWAY_LISTEN: `127.0.0.1:${gatewayPort}`,
    LINK_GRPC_TARGET: `127.0.0.1:${linkPort}`,
    IDENTITY_GRPC_TARGET: `127.0.0.1:${identityPort}`,
    ANALYTICS_GRPC_TARGET: '127.0.0.1:1',
  });
  const baseUrl = `http://127.0.0.1:${basePort}`;
  const meshUrl = `http://127.0.0.1:${gatewayPort}`;
  try {
    await waitForHttp(`${baseUrl}/`, (status) => status === 503);
    await waitForHttp(`${meshUrl}/api/v1/openapi.json`, (status) => status === 200);
    const tokens = await newGuests(meshUrl, s.callers);
    const tokensFile = join(s.workDir, 'tokens.txt');
    writeFileSync(tokensFile, `${tokens.join('\n')}\n`);
    const shared = { redis: s.redisPid, mariadb: s.mariadbPid };
    const base = await measure(baseUrl, tokensFile, s, { baseline: baseline.pid, ...shared });
    const mesh = await measure(meshUrl, tokensFile, s, {
      gateway: gateway.pid,
      identity: identity.pid,
      link: link.pid,
      ...shared,
    });
    for (const [name, { result, cpu }] of [
      ['baseline', base],
      ['mesh', mesh],
    ] as const) {
      console.log(
        `creation · ${name}: ${result.requestsPerSecond.toFixed(0)} links/s, p99 ${result.p99Ms} ms, errors ${result.errors}; CPU ${cpuText(cpu)}`,
      );
    }
    return {
      rows,
      baseline: base.result,
      mesh: mesh.result,
      baselineCpu: base.cpu,
      meshCpu: mesh.cpu,
      ratio: mesh.result.requestsPerSecond / base.result.requestsPerSecond,
      limits: CREATION_LIMITS,
      callers: s.callers,
    };
  } finally {
    await stopProcess(gateway);
    await stopProcess(identity);
    await stopProcess(link);
    await stopProcess(baseline);
    const cleanup = await createConnection({ uri: s.mysqlUrl });
    await cleanup.query(`DROP DATABASE IF EXISTS \`${s.database}_identity\``);
    await cleanup.end();
  }
}

const met = (ok: boolean) => (ok ? 'met' : 'missed');

export function renderCreation(r: CreationResult, s: CreationSettings): string {
  const t = CREATION_TARGETS;
  const row = (name: string, x: LoadResult) =>
    `| ${name} | ${x.requestsPerSecond.toFixed(0)} | ${x.p50Ms} | ${x.p99Ms} | ${x.errors} |`;
  return [
    '## Link creation through the API',
    '',
    `wrk, ${s.load.threads} thread, ${s.load.connections} connections, ${s.load.durationSeconds} s after a ${s.warmupSeconds} s warm-up; each request POSTs a new URL as one of ${r.callers} guests (bearer token). The link table held ${r.rows.toLocaleString('en')} links at the start (the baseline's table a copy of it). Rate limits raised for the run: ${Object.entries(
      r.limits,
    )
      .map(([k, v]) => `${k}=${v}`)
      .join(
        ', ',
      )}. Gateway authentication cache at its defaults (AUTH_CACHE_SIZE 10000, AUTH_CACHE_TTL 30s).`,
    '',
    '| server | links/s | p50 ms | p99 ms | errors |',
    '|---|---|---|---|---|',
    row('baseline (node:http, one INSERT + one Redis SET)', r.baseline),
    row('mesh (gateway → identity/link → MariaDB + Redis)', r.mesh),
    '',
    `CPU seconds in the measured run: baseline ${cpuText(r.baselineCpu)}; mesh ${cpuText(r.meshCpu)}.`,
    '',
    `Ratio ${r.ratio.toFixed(2)} (target ≥ ${t.ratio}: ${met(r.ratio >= t.ratio)}); ${r.mesh.requestsPerSecond.toFixed(0)} links/s (target ≥ ${t.linksPerSecond}: ${met(r.mesh.requestsPerSecond >= t.linksPerSecond)}); p99 ${r.mesh.p99Ms} ms (target ≤ ${t.p99Ms}: ${met(r.mesh.p99Ms <= t.p99Ms)}); errors ${r.mesh.errors}.`,
    '',
  ].join('\n');
}
