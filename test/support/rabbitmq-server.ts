// A RabbitMQ node of the test's own, so a test can stop and start a broker
// without touching the machine's (see TOOLCHAIN.md for why each step is here):
// its own node name, ports, data and log folders owned by the rabbitmq user,
// its own config file (the machine's pins port 5672) and no plugins.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connect } from 'amqplib';
import { freePort } from './ports.ts';
import { sleep } from './wait.ts';

const exec = promisify(execFile);

export class OwnRabbitMq {
  readonly port: number;
  readonly #node: string;
  readonly #dir: string;
  readonly #env: NodeJS.ProcessEnv;

  private constructor(port: number, distPort: number) {
    this.port = port;
    this.#node = `t_bus_${process.pid}_${port}@localhost`;
    this.#dir = mkdtempSync(join(tmpdir(), 'rabbitmq-'));
    writeFileSync(join(this.#dir, 'rabbitmq.conf'), `listeners.tcp.local = 127.0.0.1:${port}\n`);
    writeFileSync(join(this.#dir, 'enabled_plugins'), '[].\n');
    // Only the child gets these: an exported RABBITMQ_NODENAME would point every
    // later rabbitmqctl at this node.
    this.#env = {
      ...process.env,
      RABBITMQ_NODENAME: this.#node,
      RABBITMQ_NODE_PORT: String(port),
      RABBITMQ_DIST_PORT: String(distPort),
      RABBITMQ_MNESIA_BASE: join(this.#dir, 'mnesia'),
      RABBITMQ_LOG_BASE: join(this.#dir, 'log'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(this.#dir, 'enabled_plugins'),
      RABBITMQ_CONFIG_FILE: join(this.#dir, 'rabbitmq.conf'),
    };
  }

  /** A new node, started and answering AMQP. Call `remove()` when done, also on failure. */
  static async start(): Promise<OwnRabbitMq> {
    const server = new OwnRabbitMq(await freePort(), await freePort());
    try {
      await exec('chown', ['-R', 'rabbitmq:rabbitmq', server.#dir]);
      await server.start();
      return server;
    } catch (error) {
      await server.remove();
      throw error;
    }
  }

  get url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    await exec('rabbitmq-server', ['-detached'], { env: this.#env });
    // `rabbitmqctl await_startup` fails at once while the node is not yet
    // registered, so readiness is an AMQP handshake that succeeds.
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        const probe = await connect(this.url, { timeout: 1_000 });
        await probe.close();
        return;
      } catch (error) {
        if (Date.now() > deadline)
          throw new Error(`rabbitmq on ${this.port} did not start`, { cause: error });
        await sleep(200);
      }
    }
  }

  /** Stops the node, as an operator would; its durable queues survive for the next start. */
  async stop(): Promise<void> {
    await exec('rabbitmqctl', ['-n', this.#node, 'stop']);
  }

  /** Stops the node if it runs and deletes everything it wrote. */
  async remove(): Promise<void> {
    await this.stop().catch(() => {});
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
