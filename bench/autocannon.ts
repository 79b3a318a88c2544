// autocannon in a process of its own, for loads at a fixed offered rate
// (wrk has no rate mode: at saturation a p99 measures only the queue). Each
// request asks for a path drawn at random from a file. Run as a script it
// loads, then prints one JSON line: a warm-up (not reported), then the
// measured run with when it began and ended, so that the caller can set what
// happened meanwhile against it.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import autocannon from 'autocannon';
import type { LoadResult } from './wrk.ts';

const exec = promisify(execFile);

export interface RateLoad {
  connections: number;
  warmupSeconds: number;
  durationSeconds: number;
  /** Requests per second over all connections; 0: as fast as answered (saturation). */
  rate: number;
}

export interface RateResult extends LoadResult {
  /** Epoch ms at which the measured run began and ended. */
  startedAt: number;
  finishedAt: number;
}

/** What the bench counts of an autocannon result: redirects answered, the rest are errors. */
export function toRateResult(result: autocannon.Result): RateResult {
  const errors = result.errors + result['4xx'] + result['5xx'] + result['1xx'] + result['2xx'];
  return {
    requestsPerSecond: result.requests.total / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requests: result.requests.total,
    errors,
    startedAt: result.start.getTime(),
    finishedAt: result.finish.getTime(),
  };
}

function load(url: string, paths: string[], s: RateLoad, seconds: number) {
  return autocannon({
    url,
    connections: s.connections,
    duration: seconds,
    ...(s.rate > 0 ? { overallRate: s.rate } : {}),
    requests: [
      {
        setupRequest: (request) => ({
          ...request,
          path: paths[Math.floor(Math.random() * paths.length)] as string,
        }),
      },
    ],
  });
}

/** Runs the load in a child process (its own CPU, not the bench's event loop). */
export async function runRateLoad(
  url: string,
  pathsFile: string,
  s: RateLoad,
  nodeFlags: string[],
): Promise<RateResult> {
  const { stdout } = await exec(
    process.execPath,
    [...nodeFlags, new URL(import.meta.url).pathname, url, pathsFile, JSON.stringify(s)],
    { maxBuffer: 1 << 20 },
  );
  const line = stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(line) as RateResult;
}

if (import.meta.main) {
  const [url, pathsFile, json] = process.argv.slice(2) as [string, string, string];
  const settings = JSON.parse(json) as RateLoad;
  const paths = readFileSync(pathsFile, 'utf8').split('\n').filter(Boolean);
  if (settings.warmupSeconds > 0) await load(url, paths, settings, settings.warmupSeconds);
  const result = await load(url, paths, settings, settings.durationSeconds);
  process.stdout.write(`${JSON.stringify(toRateResult(result))}\n`);
}
