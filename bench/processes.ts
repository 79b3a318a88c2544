// Starting and stopping the processes under test, and reading their CPU time.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { setPriority } from 'node:os';

const root = new URL('..', import.meta.url).pathname;

/**
 * The node arguments of an npm start script (e.g. `start:link`), so the bench
 * runs each service exactly as `npm run start:link` does.
 */
export function startScriptArgs(script: string): string[] {
  const { scripts } = JSON.parse(
    readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
  ) as {
    scripts: Record<string, string>;
  };
  const command = scripts[script];
  if (!command?.startsWith('node ')) throw new Error(`package.json has no node script ${script}`);
  return command.slice('node '.length).split(/\s+/);
}

export function startProcess(
  name: string,
  nodeArgs: string[],
  env: Record<string, string>,
  options: { niceness?: number; idleClass?: boolean } = {},
): ChildProcess {
  // SCHED_IDLE (chrt, util-linux): run only when the CPU has nothing else to run.
  const [command, args] = options.idleClass
    ? ['chrt', ['--idle', '0', process.execPath, ...nodeArgs]]
    : [process.execPath, nodeArgs];
  const child = spawn(command, args, {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  // A lower CPU priority: raising niceness needs no privilege.
  if (options.niceness && child.pid !== undefined) setPriority(child.pid, options.niceness);
  child.on('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGTERM' && code !== null)
      console.error(`${name} exited with ${code}`);
  });
  return child;
}

export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await once(child, 'exit');
  clearTimeout(timer);
}

export async function waitForHttp(
  url: string,
  ok: (status: number) => boolean,
  timeoutMs = 30_000,
): Promise<void> {
  const start = Date.now();
  for (;;) {
    try {
      const response = await fetch(url, { redirect: 'manual' });
      await response.arrayBuffer();
      if (ok(response.status)) return;
    } catch {
      // not up yet
    }
    if (Date.now() - start > timeoutMs) throw new Error(`${url} did not come up`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
export function cpuSeconds(pid: number | undefined): number {
  if (!pid) return Number.NaN;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds every process on the machine has used so far (busy time in /proc/stat). */
export function machineCpuSeconds(): number {
  try {
    const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '')
      .trim()
      .split(/\s+/)
      .slice(1, 9)
      .map(Number);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return (fields.reduce((sum, n) => sum + n, 0) - idle) / 100;
  } catch {
    return Number.NaN;
  }
}
