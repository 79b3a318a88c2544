// Running wrk and reading its summary. One thread, a fixed number of
// connections, paths drawn at random from a file by a small Lua script.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export interface LoadSettings {
  connections: number;
  threads: number;
  durationSeconds: number;
}

export interface LoadResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Socket errors plus responses that were not 2xx/3xx. */
  errors: number;
}

const LUA = `
local paths = {}
init = function(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
end
request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
`;

export async function wrkVersion(): Promise<string | null> {
  try {
    const { stdout, stderr } = await exec('wrk', ['--version']).catch(
      (error: { stdout?: string; stderr?: string }) => ({
        stdout: error.stdout ?? '',
        stderr: error.stderr ?? '',
      }),
    );
    const line = `${stdout}${stderr}`.split('\n')[0] ?? '';
    return /wrk/.test(line) ? line.trim() : null;
  } catch {
    return null;
  }
}

function toMs(value: string, unit: string): number {
  const n = Number(value);
  if (unit === 'us') return n / 1_000;
  if (unit === 's') return n * 1_000;
  return n;
}

export function parseWrk(output: string): LoadResult {
  const rate = /Requests\/sec:\s+([\d.]+)/.exec(output);
  const total = /(\d+) requests in/.exec(output);
  const percentile = (p: string) => {
    const match = new RegExp(`\\s${p}%\\s+([\\d.]+)(us|ms|s)`).exec(output);
    return match ? toMs(match[1] as string, match[2] as string) : Number.NaN;
  };
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(
    output,
  );
  const non3xx = /Non-2xx or 3xx responses: (\d+)/.exec(output);
  const socketErrors = socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  if (!rate || !total) throw new Error(`cannot read wrk output:\n${output}`);
  return {
    requestsPerSecond: Number(rate[1]),
    p50Ms: percentile('50'),
    p99Ms: percentile('99'),
    requests: Number(total[1]),
    errors: socketErrors + (non3xx ? Number(non3xx[1]) : 0),
  };
}

export async function runWrk(
  url: string,
  pathsFile: string,
  settings: LoadSettings,
  workDir: string,
): Promise<LoadResult> {
  const script = join(workDir, 'random-paths.lua');
  writeFileSync(script, LUA);
  return runWrkScript(url, script, [pathsFile], settings);
}

/** wrk with a Lua script of the caller's (e.g. POSTs with a body) and its arguments. */
export async function runWrkScript(
  url: string,
  script: string,
  args: string[],
  settings: LoadSettings,
): Promise<LoadResult> {
  const { stdout } = await exec(
    'wrk',
    [
      `-t${settings.threads}`,
      `-c${settings.connections}`,
      `-d${settings.durationSeconds}s`,
      '--latency',
      '-s',
      script,
      url,
      '--',
      ...args,
    ],
    { maxBuffer: 1 << 20 },
  );
  return parseWrk(stdout);
}
