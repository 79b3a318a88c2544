// Channels that recover. amqp-connection-manager reconnects after a lost
// connection and re-runs each channel's setup, but a channel the broker
// closes on its own (a 404 for a deleted queue, a 406, a consumer cancelled
// because its queue went away) stays closed until the next reconnect
// (its open issues 230 and 347). So each channel here watches its amqplib
// channel and, if it closes while the connection stays up, replaces itself.
import type { AmqpConnectionManager, ChannelWrapper } from 'amqp-connection-manager';
import type { ConfirmChannel } from 'amqplib';
import type { ThrottledLog } from '../log.ts';
import type { Topology } from './topology.ts';
import { queuesOf } from './topology.ts';

const REOPEN_AFTER_MS = 1_000;

export class RecoveringChannel {
  readonly #manager: AmqpConnectionManager;
  readonly #name: string;
  readonly #setup: (channel: ConfirmChannel) => Promise<void>;
  readonly #log: ThrottledLog;
  #wrapper: ChannelWrapper;
  #reopen: NodeJS.Timeout | undefined;
  #closed = false;
  /** Counts lost connections, which close every channel just before the manager reports them. */
  #disconnects = 0;
  readonly #countDisconnect = () => {
    this.#disconnects++;
  };

  /** `setup` runs on every new amqplib channel, before anything is published on it. */
  constructor(
    manager: AmqpConnectionManager,
    name: string,
    setup: (channel: ConfirmChannel) => Promise<void>,
    log: ThrottledLog,
  ) {
    this.#manager = manager;
    this.#name = name;
    this.#setup = setup;
    this.#log = log;
    manager.on('disconnect', this.#countDisconnect);
    this.#wrapper = this.#open();
  }

  get wrapper(): ChannelWrapper {
    return this.#wrapper;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#manager.removeListener('disconnect', this.#countDisconnect);
    clearTimeout(this.#reopen);
    await this.#wrapper.close();
  }

  #open(): ChannelWrapper {
    const wrapper: ChannelWrapper = this.#manager.createChannel({
      name: this.#name,
      confirm: true,
      setup: async (channel: ConfirmChannel) => {
        channel.on('close', () => this.#closedAlone(wrapper));
        await this.#setup(channel);
      },
    });
    wrapper.on('error', (error: Error) =>
      this.#log.warn(
        `setup:${this.#name}`,
        { err: error, channel: this.#name },
        'bus channel setup failed',
      ),
    );
    return wrapper;
  }

  #closedAlone(wrapper: ChannelWrapper): void {
    if (this.#closed || wrapper !== this.#wrapper) return;
    // A lost connection closes every channel too, and the manager reopens
    // those: it reports the loss right after, so wait and see.
    const disconnects = this.#disconnects;
    clearTimeout(this.#reopen);
    this.#reopen = setTimeout(() => {
      if (this.#closed || wrapper !== this.#wrapper || this.#disconnects !== disconnects) return;
      this.#log.warn(
        `reopen:${this.#name}`,
        { channel: this.#name },
        'bus channel closed by the broker; reopening',
      );
      this.#wrapper = this.#open();
      void wrapper.close();
    }, REOPEN_AFTER_MS);
  }
}

/** Declares the exchange and these consumers' queues and bindings; every call is idempotent. */
export async function declare(
  channel: ConfirmChannel,
  topology: Topology,
  consumers = topology.consumers,
): Promise<void> {
  await channel.assertExchange(topology.exchange, 'topic', { durable: true });
  for (const consumer of consumers) {
    for (const queue of queuesOf(consumer.name, topology.retry, topology.queueType)) {
      await channel.assertQueue(queue.name, { durable: true, arguments: queue.arguments });
    }
    for (const key of consumer.routingKeys) {
      await channel.bindQueue(consumer.name, topology.exchange, key);
    }
  }
}
