// A network of the harness's own: one network namespace per host, each joined
// by a veth pair to a bridge in a namespace of its own, with addresses from a
// private range that nothing outside these namespaces routes. Where
// namespaces cannot be made (not root, no capability), every host is
// 127.0.0.1 with ports of its own, and a connection a story may cut goes
// through a TCP relay in the test instead of a route: the stories are the same.
//
// Everything made is written down as it is made, and removed in remove(),
// also from a process 'exit' or signal handler, so an aborted run leaves no
// namespace, process or folder behind.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../support/ports.ts';
import { TcpRelay } from '../support/tcp-relay.ts';
import { PortForward } from './port-forward.ts';

export type NetworkMode = 'namespaces' | 'loopback';

const SUBNET = '10.77.0';

export interface HostProcess {
  child: ChildProcess;
  name: string;
  output(): string;
  exited: Promise<void>;
}

export interface Host {
  readonly name: string;
  /** The address the host's services listen on and others dial. */
  readonly ip: string;
}

/** Sync, best-effort: used while the process exits, when nothing async runs. */
function quietly(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return '';
  }
}

function run(command: string, args: string[]): void {
  execFileSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export class Network {
  readonly mode: NetworkMode;
  /** Why namespaces are not used, when they are not. */
  readonly fallbackReason: string | undefined;
  /** A folder of the run's own: sockets, data, configuration. */
  readonly dir: string;
  readonly #id = randomBytes(3).toString('hex');
  readonly #hosts = new Map<string, Host>();
  readonly #namespaces: string[] = [];
  readonly #processes = new Set<HostProcess>();
  readonly #relays = new Map<string, TcpRelay>();
  readonly #forwards: PortForward[] = [];
  readonly #cuts = new Set<string>();
  #removed = false;
  readonly #onExit = () => this.removeNow();
  readonly #onSignal = (signal: NodeJS.Signals) => {
    this.removeNow();
    process.kill(process.pid, signal);
  };

  private constructor(mode: NetworkMode, fallbackReason?: string) {
    this.mode = mode;
    this.fallbackReason = fallbackReason;
    this.dir = mkdtempSync(join(tmpdir(), `shm-${this.#id}-`));
    // The broker runs as its own user and must reach its folders inside.
    chmodSync(this.dir, 0o755);
    process.once('exit', this.#onExit);
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
      process.once(signal, this.#onSignal);
  }

  /** Namespaces if this machine lets us make them, else loopback (said plainly by the caller). */
  static create(hostNames: readonly string[]): Network {
    const probe = `shm-probe-${randomBytes(3).toString('hex')}`;
    let reason: string | undefined;
    try {
      run('ip', ['netns', 'add', probe]);
      run('ip', ['netns', 'del', probe]);
    } catch (error) {
      const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
      reason = stderr || (error as Error).message;
    }
    if (process.env.HOSTS_FORCE_LOOPBACK === '1') reason = 'HOSTS_FORCE_LOOPBACK=1';
    const network = new Network(reason ? 'loopback' : 'namespaces', reason);
    try {
      if (network.mode === 'namespaces') network.#build(hostNames);
      else for (const name of hostNames) network.#hosts.set(name, { name, ip: '127.0.0.1' });
    } catch (error) {
      network.removeNow();
      throw error;
    }
    return network;
  }

  #namespace(host: string): string {
    return `shm-${this.#id}-${host}`;
  }

  #build(hostNames: readonly string[]): void {
    const bridgeNs = this.#namespace('bridge');
    run('ip', ['netns', 'add', bridgeNs]);
    this.#namespaces.push(bridgeNs);
    const inBridge = (...args: string[]) => run('ip', ['-n', bridgeNs, ...args]);
    inBridge('link', 'add', 'br0', 'type', 'bridge');
    inBridge('link', 'set', 'br0', 'up');
    inBridge('link', 'set', 'lo', 'up');
    hostNames.forEach((name, index) => {
      const ns = this.#namespace(name);
      const ip = `${SUBNET}.${index + 10}`;
      run('ip', ['netns', 'add', ns]);
      this.#namespaces.push(ns);
      const peer = `v${index}`;
      // Made inside the bridge's namespace, so the root namespace never holds either end.
      inBridge('link', 'add', peer, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      inBridge('link', 'set', peer, 'master', 'br0');
      inBridge('link', 'set', peer, 'up');
      const inHost = (...args: string[]) => run('ip', ['-n', ns, ...args]);
      inHost('link', 'set', 'lo', 'up');
      inHost('addr', 'add', `${ip}/24`, 'dev', 'eth0');
      inHost('link', 'set', 'eth0', 'up');
      this.#hosts.set(name, { name, ip });
    });
  }

  host(name: string): Host {
    const host = this.#hosts.get(name);
    if (!host) throw new Error(`no host ${name}`);
    return host;
  }

  /** The port a service of `host` listens on: its usual one on a host of its own, a free one on loopback. */
  async port(usual: number): Promise<number> {
    return this.mode === 'namespaces' ? usual : freePort();
  }

  /**
   * host:port at which `from` reaches `to`'s `port`: the direct address
   * between namespaces; on loopback the port itself, or, for a path a story
   * will cut(), a relay of the test's.
   */
  async route(from: string, to: string, port: number, cuttable = false): Promise<string> {
    const target = this.host(to);
    if (this.mode === 'namespaces' || !cuttable) return `${target.ip}:${port}`;
    const key = `${from}>${to}:${port}`;
    let relay = this.#relays.get(key);
    if (!relay) {
      relay = new TcpRelay(target.ip, port);
      await relay.start();
      this.#relays.set(key, relay);
    }
    return `127.0.0.1:${relay.port}`;
  }

  /** Drops every packet from `from` to `to` (its link is gone, as a cut cable or a partition). */
  async cut(from: string, to: string): Promise<void> {
    if (this.mode === 'namespaces') {
      const ip = this.host(to).ip;
      run('ip', ['-n', this.#namespace(from), 'route', 'add', 'blackhole', `${ip}/32`]);
      this.#cuts.add(`${from}>${to}`);
      return;
    }
    for (const [key, relay] of this.#relays)
      if (key.startsWith(`${from}>${to}:`)) await relay.cut();
  }

  async restore(from: string, to: string): Promise<void> {
    if (this.mode === 'namespaces') {
      if (!this.#cuts.delete(`${from}>${to}`)) return;
      const ip = this.host(to).ip;
      run('ip', ['-n', this.#namespace(from), 'route', 'del', 'blackhole', `${ip}/32`]);
      return;
    }
    for (const [key, relay] of this.#relays)
      if (key.startsWith(`${from}>${to}:`)) await relay.start();
  }

  /**
   * Where the test (in no namespace) reaches `host`'s `port`: a forward
   * through a Unix socket into the host's namespace, so no route or address
   * is added outside the harness's namespaces; on loopback, the port itself.
   */
  async reach(host: string, port: number): Promise<string> {
    const target = this.host(host);
    if (this.mode === 'loopback') return `${target.ip}:${port}`;
    const forward = await PortForward.open(this, host, `${target.ip}:${port}`);
    this.#forwards.push(forward);
    return `127.0.0.1:${forward.port}`;
  }

  /** Starts `command` on `host`, in a process group of its own (so all of it can be killed). */
  spawn(
    host: string,
    name: string,
    command: string,
    args: string[],
    env: NodeJS.ProcessEnv,
    cwd?: string,
  ): HostProcess {
    const [file, argv] =
      this.mode === 'namespaces'
        ? ['ip', ['netns', 'exec', this.#namespace(host), command, ...args]]
        : [command, args];
    const child = spawn(file, argv, {
      cwd,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    // HOSTS_LOG_DIR keeps every process's whole output, for a story that fails.
    const logDir = process.env.HOSTS_LOG_DIR;
    const logFile = logDir ? join(logDir, `${name.replace(/[^\w@.-]+/g, '_')}.log`) : undefined;
    const keep = (chunk: string) => {
      // Enough to explain a failure, never the whole run.
      output = (output + chunk).slice(-20_000);
      if (logFile) appendFileSync(logFile, chunk);
    };
    child.stdout?.setEncoding('utf8').on('data', keep);
    child.stderr?.setEncoding('utf8').on('data', keep);
    const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
    const started: HostProcess = { child, name, output: () => output, exited };
    this.#processes.add(started);
    exited.then(() => this.#processes.delete(started));
    return started;
  }

  /** Sends `signal` to the process and everything it started. */
  signal(process: HostProcess, signal: NodeJS.Signals): void {
    const pid = process.child.pid;
    if (pid === undefined || process.child.exitCode !== null || process.child.signalCode !== null)
      return;
    try {
      globalThis.process.kill(-pid, signal);
    } catch {
      // already gone
    }
  }

  /** Everything the network holds goes: processes, relays, namespaces, the folder. */
  async remove(): Promise<void> {
    for (const relay of this.#relays.values()) await relay.cut();
    for (const forward of this.#forwards) await forward.close();
    this.removeNow();
  }

  /** The synchronous part of remove(), safe in an 'exit' handler. */
  removeNow(): void {
    if (this.#removed) return;
    this.#removed = true;
    process.off('exit', this.#onExit);
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
      process.off(signal, this.#onSignal);
    for (const started of this.#processes) this.signal(started, 'SIGKILL');
    // Whatever runs in a namespace (daemons that left their process group, such as epmd) goes with it.
    for (const ns of this.#namespaces) {
      for (const pid of quietly('ip', ['netns', 'pids', ns]).split(/\s+/).filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    for (const ns of this.#namespaces.reverse()) quietly('ip', ['netns', 'del', ns]);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** The namespaces this network made (for the test that checks teardown). */
  get namespaces(): readonly string[] {
    return this.#namespaces;
  }

  namespaceOf(host: string): string {
    return this.#namespace(host);
  }
}
