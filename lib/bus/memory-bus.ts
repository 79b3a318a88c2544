// The bus in one process, for the embedded mesh: the same topology, delivery,
// retry and dead-letter behaviour as on RabbitMQ, kept in memory (so nothing
// outlives the process, which is all the embedded mesh promises).
import type { Logger } from '../log.ts';
import { telemetry } from '../telemetry/tracing.ts';
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
import { retryDelayMs, type Topology, topicMatches } from './topology.ts';
import { startPublish } from './tracing.ts';

interface Queue {
  readonly routingKeys: readonly string[];
  readonly ready: Delivery[];
  readonly dead: DeadLetter[];
  readonly runners: BatchRunner<Delivery>[];
}

export class MemoryBus implements Bus {
  readonly #topology: Topology;
  readonly #log: Logger;
  readonly #watch: ((consumer: string) => SettleWatch) | undefined;
  readonly #queues = new Map<string, Queue>();
  readonly #retries = new Set<NodeJS.Timeout>();
  readonly #subscriptions = new Set<Subscription>();
  #closed = false;

  /** `watch` is told of every settled delivery, per consumer. */
  constructor(topology: Topology, log: Logger, watch?: (consumer: string) => SettleWatch) {
    this.#watch = watch;
    this.#topology = topology;
    this.#log = log;
    for (const { name, routingKeys } of topology.consumers) {
      this.#queues.set(name, { routingKeys, ready: [], dead: [], runners: [] });
    }
  }

  async publish(routingKey: string, body: Uint8Array, options: PublishOptions = {}) {
    if (this.#closed) throw new Error('bus closed');
    const traced = telemetry.tracing
      ? startPublish('in-process', this.#topology.exchange, routingKey, options.onBehalfOf)
      : undefined;
    const headers = traced?.headers;
    traced?.span.end();
    const publishedAt = Date.now();
    for (const [name, queue] of this.#queues) {
      if (!queue.routingKeys.some((pattern) => topicMatches(pattern, routingKey))) continue;
      // A copy, as over a network: the publisher may reuse its buffer.
      queue.ready.push({
        body: body.slice(),
        routingKey,
        attempt: 1,
        redelivered: false,
        headers,
        publishedAt,
      });
      // Delivered on a later turn: a publisher never runs handlers inline.
      queueMicrotask(() => this.#pump(name));
    }
  }

  consume(consumer: string, handler: Handler, options: ConsumeOptions = {}): Subscription {
    const queue = this.#queue(consumer);
    const policy = this.#topology.retry;
    const runner: BatchRunner<Delivery> = new BatchRunner(
      { system: 'in-process', name: consumer },
      handler,
      options,
      {
        done: () => {},
        failed: async (delivery, _, error) => {
          if (delivery.attempt >= policy.maxAttempts) {
            const { body, routingKey, attempt: attempts } = delivery;
            queue.dead.push({ body, routingKey, attempts, error: messageOf(error) });
            return 'dead_lettered';
          }
          const attempt = delivery.attempt + 1;
          const timer = setTimeout(
            () => {
              this.#retries.delete(timer);
              queue.ready.push({ ...delivery, attempt, redelivered: true });
              this.#pump(consumer);
            },
            retryDelayMs(policy, attempt),
          );
          this.#retries.add(timer);
          return 'retried';
        },
        release: (delivery) => {
          queue.ready.unshift({ ...delivery, redelivered: true });
        },
        room: () => this.#pump(consumer),
      },
      this.#log,
      this.#watch?.(consumer),
    );
    queue.runners.push(runner);
    queueMicrotask(() => this.#pump(consumer));
    const subscription = {
      stop: async () => {
        this.#subscriptions.delete(subscription);
        const index = queue.runners.indexOf(runner);
        if (index >= 0) queue.runners.splice(index, 1);
        await runner.stop();
        this.#pump(consumer); // what it handed back goes to the others
      },
    };
    this.#subscriptions.add(subscription);
    return subscription;
  }

  async depth(consumer: string): Promise<number> {
    return this.#queue(consumer).ready.length;
  }

  async deadLetters(consumer: string, limit = 100): Promise<DeadLetter[]> {
    return this.#queue(consumer).dead.slice(0, limit);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#subscriptions].map((s) => s.stop()));
    for (const timer of this.#retries) clearTimeout(timer);
  }

  #queue(consumer: string): Queue {
    const queue = this.#queues.get(consumer);
    if (!queue) throw new Error(`no consumer ${consumer} in the bus topology`);
    return queue;
  }

  /** Hands ready messages to runners with room, like a broker within each consumer's prefetch. */
  #pump(consumer: string): void {
    const queue = this.#queue(consumer);
    for (const runner of queue.runners) {
      while (queue.ready.length > 0 && runner.outstanding < runner.prefetch) {
        const delivery = queue.ready.shift() as Delivery;
        runner.push(delivery, delivery);
      }
    }
  }
}
