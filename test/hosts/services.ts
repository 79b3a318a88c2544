// One of the mesh's processes on its host, started exactly as
// `npm run start:<name>` starts it, with the settings of its host: restart()
// stops it as an orchestrator would (SIGTERM, then waits) and starts it again;
// kill() is a crash.
import { startScriptArgs } from '../../bench/processes.ts';
import { REPO_ROOT } from '../support/processes.ts';
import { sleep } from '../support/wait.ts';
import type { HostProcess, Network } from './network.ts';

export type ServiceName = 'gateway' | 'link' | 'identity' | 'analytics' | 'notifier';

/** The line each part logs once it serves (lib/service.ts, gateway/main.ts). */
const READY_LINE: Record<ServiceName, string> = {
  gateway: '"msg":"gateway listening"',
  link: '"msg":"link service ready"',
  identity: '"msg":"identity service ready"',
  analytics: '"msg":"analytics service ready"',
  notifier: '"msg":"notifier service ready"',
};

export class MeshProcess {
  readonly host: string;
  readonly service: ServiceName;
  readonly #network: Network;
  readonly #env: Record<string, string>;
  #process: HostProcess | undefined;
  /** Exits other than the ones a story caused. */
  readonly unexpectedExits: string[] = [];

  constructor(network: Network, host: string, service: ServiceName, env: Record<string, string>) {
    this.#network = network;
    this.host = host;
    this.service = service;
    this.#env = env;
  }

  get running(): boolean {
    const child = this.#process?.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  output(): string {
    return this.#process?.output() ?? '';
  }

  /** Starts the process and resolves once it serves. */
  async start(timeoutMs = 60_000): Promise<void> {
    const started = this.#network.spawn(
      this.host,
      `${this.service}@${this.host}`,
      process.execPath,
      startScriptArgs(`start:${this.service}`),
      { PATH: process.env.PATH ?? '', ...this.#env },
      REPO_ROOT,
    );
    this.#process = started;
    let expected = false;
    started.exited.then(() => {
      const { exitCode, signalCode } = started.child;
      if (!expected && exitCode !== 0 && signalCode !== 'SIGKILL' && signalCode !== 'SIGTERM')
        this.unexpectedExits.push(`${exitCode ?? signalCode}: ${started.output().slice(-2_000)}`);
    });
    this.#expectExit = () => {
      expected = true;
    };
    const deadline = Date.now() + timeoutMs;
    while (!started.output().includes(READY_LINE[this.service])) {
      if (!this.running)
        throw new Error(`${this.service} on ${this.host} exited:\n${started.output()}`);
      if (Date.now() > deadline)
        throw new Error(`${this.service} on ${this.host} did not start:\n${started.output()}`);
      await sleep(50);
    }
  }

  #expectExit: () => void = () => {};

  /** SIGTERM, as an orchestrator stops it; resolves once it has exited (killed after timeoutMs). */
  async stop(timeoutMs = 20_000): Promise<void> {
    const started = this.#process;
    if (!started || !this.running) return;
    this.#expectExit();
    this.#network.signal(started, 'SIGTERM');
    const timer = setTimeout(() => this.#network.signal(started, 'SIGKILL'), timeoutMs);
    await started.exited;
    clearTimeout(timer);
    if (started.child.exitCode !== 0)
      this.unexpectedExits.push(
        `stopped with ${started.child.exitCode ?? started.child.signalCode}: ${started.output().slice(-2_000)}`,
      );
  }

  /** SIGKILL: the host's process dies with no chance to drain. */
  async kill(): Promise<void> {
    const started = this.#process;
    if (!started || !this.running) return;
    this.#expectExit();
    this.#network.signal(started, 'SIGKILL');
    await started.exited;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }
}
