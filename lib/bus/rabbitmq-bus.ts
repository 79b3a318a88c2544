// The bus on RabbitMQ (amqplib 2 under amqp-connection-manager 5, which
// reconnects and re-runs each channel's setup). Publishing goes through one
// confirm channel whose setup declares the whole topology, so no event is
// published before its consumers' queues exist; a publish made while the
// broker is away waits for it within its timeout, then fails. Each consumer
// has a channel of its own (a slow one never holds up another's acks), and
// acks on the very channel a message came on: after a reconnect, a
// delivery of the old channel is left to the broker, which redelivers it.
// Retries and dead letters: see topology.ts.
import { type AmqpConnectionManager, connect } from 'amqp-connection-manager';
import type { ConfirmChannel, ConsumeMessage, GetMessage, Message, Options } from 'amqplib';
import { type Logger, ThrottledLog } from '../log.ts';
import { recordFailure, telemetry } from '../telemetry/tracing.ts';
import { BatchRunner, messageOf, type SettleWatch } from './batches.ts';
import type {
  Bus,
  ConsumeOptions,
  DeadLetter,
  Delivery,
  Handler,
  PublishOptions,
  Subscription,
} from './bus.ts';
import { declare, RecoveringChannel } from './rabbitmq-channel.ts';
import { deadQueue, HEADERS, retryDelayMs, retryQueue, type Topology } from './topology.ts';
import { startPublish } from './tracing.ts';

export interface RabbitMqBusOptions {
  url: string;
  topology: Topology;
  log: Logger;
  /** Bound on a publish that gets no confirm (broker away or slow). */
  publishTimeoutMs: number;
  /** Wait between reconnection attempts; 1 s unless given. */
  reconnectDelayMs?: number;
  /** Told of every settled delivery, per consumer. */
  watch?: (consumer: string) => SettleWatch;
}

interface Raw {
  channel: ConfirmChannel;
  message: ConsumeMessage;
}

export class RabbitMqBus implements Bus {
  readonly #topology: Topology;
  readonly #log: Logger;
  readonly #throttled: ThrottledLog;
  readonly #publishTimeoutMs: number;
  readonly #watch: ((consumer: string) => SettleWatch) | undefined;
  readonly #manager: AmqpConnectionManager;
  readonly #publisher: RecoveringChannel;
  readonly #subscriptions = new Set<Subscription>();

  constructor(options: RabbitMqBusOptions) {
    this.#topology = options.topology;
    this.#log = options.log;
    this.#throttled = new ThrottledLog(options.log);
    this.#publishTimeoutMs = options.publishTimeoutMs;
    this.#watch = options.watch;
    this.#manager = connect([options.url], {
      heartbeatIntervalInSeconds: 5,
      reconnectTimeInSeconds: (options.reconnectDelayMs ?? 1_000) / 1_000,
    });
    this.#manager.on('connect', () => this.#log.info('bus connected to rabbitmq'));
    this.#manager.on('disconnect', ({ err }) =>
      this.#throttled.warn('disconnect', { err }, 'bus lost rabbitmq; reconnecting'),
    );
    this.#manager.on('connectFailed', ({ err }) =>
      this.#throttled.warn('connect', { err }, 'bus cannot reach rabbitmq; retrying'),
    );
    this.#publisher = new RecoveringChannel(
      this.#manager,
      'publisher',
      (channel) => declare(channel, this.#topology),
      this.#throttled,
    );
  }

  /** Resolves once connected and the topology is declared; false after timeoutMs. */
  async ready(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const connected = this.#publisher.wrapper.waitForConnect().then(() => true as const);
    return Promise.race([connected, late]).finally(() => clearTimeout(timer));
  }

  async publish(routingKey: string, body: Uint8Array, options: PublishOptions = {}) {
    // A copy: while the broker is away the message waits in memory, and the
    // caller may reuse its buffer meanwhile.
    const content = Buffer.from(body);
    const exchange = this.#topology.exchange;
    const traced = telemetry.tracing
      ? startPublish('rabbitmq', exchange, routingKey, options.onBehalfOf)
      : undefined;
    const sending = this.#publisher.wrapper.publish(exchange, routingKey, content, {
      persistent: true,
      contentType: 'application/x-protobuf',
      // AMQP's timestamp counts seconds.
      timestamp: Math.floor(Date.now() / 1_000),
      timeout: options.timeoutMs ?? this.#publishTimeoutMs,
      headers: traced?.headers,
    });
    if (!traced) {
      await sending;
      return;
    }
    await sending.then(
      () => traced.span.end(),
      (error: unknown) => {
        recordFailure(traced.span, error);
        traced.span.end();
        throw error;
      },
    );
  }

  consume(consumer: string, handler: Handler, options: ConsumeOptions = {}): Subscription {
    const spec = this.#topology.consumers.find((c) => c.name === consumer);
    if (!spec) throw new Error(`no consumer ${consumer} in the bus topology`);
    const runner = new BatchRunner<Raw>(
      { system: 'rabbitmq', name: consumer },
      handler,
      options,
      this.#settling(consumer),
      this.#log,
      this.#watch?.(consumer),
    );
    let stopping = false;
    let current: { channel: ConfirmChannel; consumerTag: string } | undefined;
    const channel = new RecoveringChannel(
      this.#manager,
      consumer,
      async (raw) => {
        await declare(raw, this.#topology, [spec]);
        await raw.prefetch(runner.prefetch);
        if (stopping) return;
        raw.on('close', () => runner.discard((r) => r.channel === raw));
        const { consumerTag } = await raw.consume(consumer, (message) => {
          // null: the broker cancelled us (queue deleted); a new channel re-declares it.
          if (message) runner.push({ channel: raw, message }, deliveryOf(message));
          else void raw.close().catch(() => {});
        });
        current = { channel: raw, consumerTag };
      },
      this.#throttled,
    );
    const subscription = {
      stop: async () => {
        stopping = true;
        this.#subscriptions.delete(subscription);
        await current?.channel.cancel(current.consumerTag).catch(() => {});
        await runner.stop();
        await channel.close();
      },
    };
    this.#subscriptions.add(subscription);
    return subscription;
  }

  async depth(consumer: string): Promise<number> {
    const connection = this.#manager.connection;
    if (!connection) throw new Error('bus not connected to rabbitmq');
    // A channel of its own: a check of a queue an operator deleted closes the channel it ran on.
    const channel = await connection.createChannel();
    try {
      const { messageCount } = await channel.checkQueue(consumer);
      return messageCount;
    } finally {
      await channel.close().catch(() => {});
    }
  }

  async deadLetters(consumer: string, limit = 100): Promise<DeadLetter[]> {
    const connection = this.#manager.connection;
    if (!connection) throw new Error('bus not connected to rabbitmq');
    const channel = await connection.createChannel();
    try {
      const letters: DeadLetter[] = [];
      while (letters.length < limit) {
        const message = await channel.get(deadQueue(consumer), { noAck: false });
        if (!message) break;
        letters.push(deadLetterOf(message));
      }
      return letters;
    } finally {
      // Closing without acks puts every one back, in order.
      await channel.close().catch(() => {});
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.#subscriptions].map((s) => s.stop()));
    await this.#publisher.close();
    await this.#manager.close();
  }

  #settling(consumer: string) {
    const policy = this.#topology.retry;
    return {
      done: ({ channel, message }: Raw) => ackQuietly(channel, message),
      failed: async ({ channel, message }: Raw, delivery: Delivery, error: unknown) => {
        const next = delivery.attempt + 1;
        const parked = next > policy.maxAttempts;
        const queue = parked
          ? deadQueue(consumer)
          : retryQueue(consumer, retryDelayMs(policy, next));
        await sendConfirmed(channel, queue, message, {
          [HEADERS.attempt]: parked ? delivery.attempt : next,
          [HEADERS.routingKey]: delivery.routingKey,
          [HEADERS.error]: messageOf(error),
        });
        ackQuietly(channel, message);
        return parked ? ('dead_lettered' as const) : ('retried' as const);
      },
      release: ({ channel, message }: Raw) => {
        try {
          channel.nack(message, false, true);
        } catch {
          // The channel is gone, and with it our claim: the broker redelivers it.
        }
      },
    };
  }
}

function ackQuietly(channel: ConfirmChannel, message: ConsumeMessage): void {
  try {
    channel.ack(message);
  } catch {
    // The channel closed after delivery: the broker redelivers the message.
  }
}

/** Republishes a copy to a queue (default exchange) and resolves when the broker confirms it. */
function sendConfirmed(
  channel: ConfirmChannel,
  queue: string,
  message: ConsumeMessage,
  headers: Record<string, string | number>,
): Promise<void> {
  const { properties } = message;
  const kept = Object.entries(properties.headers ?? {}).filter(
    ([name]) => !/^x-(death|first-death|last-death)/.test(name),
  );
  const options: Options.Publish = {
    persistent: true,
    contentType: properties.contentType,
    timestamp: properties.timestamp,
    headers: { ...Object.fromEntries(kept), ...headers },
  };
  return new Promise((resolve, reject) => {
    channel.sendToQueue(queue, message.content, options, (error: unknown) =>
      error ? reject(error) : resolve(),
    );
  });
}

function deliveryOf(message: Message): Delivery {
  const headers = message.properties.headers ?? {};
  const attempt = Number(headers[HEADERS.attempt] ?? 1);
  return {
    body: message.content,
    routingKey: String(headers[HEADERS.routingKey] ?? message.fields.routingKey),
    attempt,
    redelivered: message.fields.redelivered || attempt > 1,
    headers,
    publishedAt:
      typeof message.properties.timestamp === 'number'
        ? message.properties.timestamp * 1_000
        : undefined,
  };
}

function deadLetterOf(message: GetMessage): DeadLetter {
  const delivery = deliveryOf(message);
  return {
    body: delivery.body,
    routingKey: delivery.routingKey,
    attempts: delivery.attempt,
    error: String(message.properties.headers?.[HEADERS.error] ?? ''),
  };
}
