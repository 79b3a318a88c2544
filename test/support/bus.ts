// The two flavours of bus every bus story runs against, each on a topology of
// its own (unique exchange and queue names), removed from RabbitMQ afterwards.
import { connect } from 'amqplib';
import type { Bus } from '../../lib/bus/bus.ts';
import { MemoryBus } from '../../lib/bus/memory-bus.ts';
import { RabbitMqBus } from '../../lib/bus/rabbitmq-bus.ts';
import { queuesOf, type RetryPolicy, type Topology } from '../../lib/bus/topology.ts';
import { RABBITMQ_URL, uniqueName } from './env.ts';
import { testLog } from './logger.ts';

/** Short delays, so a story sees every retry: attempts 2 and 3 after 100 and 200 ms. */
export const TEST_RETRY: RetryPolicy = { maxAttempts: 3, backoff: { initialMs: 100, maxMs: 200 } };

export interface BusFlavour {
  name: 'memory' | 'rabbitmq' | 'rabbitmq, quorum queues';
  open(topology: Topology): Promise<Bus>;
}

export const BUS_FLAVOURS: BusFlavour[] = [
  { name: 'memory', open: async (topology) => new MemoryBus(topology, testLog) },
  {
    name: 'rabbitmq',
    async open(topology) {
      const bus = new RabbitMqBus({
        url: RABBITMQ_URL,
        topology,
        log: testLog,
        publishTimeoutMs: 5_000,
      });
      if (!(await bus.ready(10_000))) throw new Error(`rabbitmq at ${RABBITMQ_URL} not ready`);
      return bus;
    },
  },
];

/**
 * The same broker with every queue a quorum queue (BUS_QUEUE_TYPE=quorum),
 * for the bus contract alone: each quorum queue is a Raft member of its own,
 * heavier on the broker than a classic one, so the other suites stay classic.
 */
export const QUORUM_FLAVOUR: BusFlavour = {
  name: 'rabbitmq, quorum queues',
  async open(topology) {
    const bus = new RabbitMqBus({
      url: RABBITMQ_URL,
      topology: { ...topology, queueType: 'quorum' },
      log: testLog,
      publishTimeoutMs: 5_000,
    });
    if (!(await bus.ready(10_000))) throw new Error(`rabbitmq at ${RABBITMQ_URL} not ready`);
    return bus;
  },
};

/** A topology of unique names: consumers are given by label and routing keys. */
export function testTopology(consumers: Record<string, string[]>, retry = TEST_RETRY) {
  const names = Object.fromEntries(
    Object.keys(consumers).map((label) => [label, uniqueName(label)]),
  );
  const topology: Topology = {
    exchange: uniqueName('events'),
    consumers: Object.entries(consumers).map(([label, routingKeys]) => ({
      name: names[label] as string,
      routingKeys,
    })),
    retry,
  };
  return { topology, names };
}

/** Deletes a topology's exchange and queues from a broker. */
export async function removeTopology(topology: Topology, url = RABBITMQ_URL): Promise<void> {
  const connection = await connect(url);
  try {
    const channel = await connection.createChannel();
    for (const consumer of topology.consumers) {
      for (const queue of queuesOf(consumer.name, topology.retry))
        await channel.deleteQueue(queue.name);
    }
    await channel.deleteExchange(topology.exchange);
  } finally {
    await connection.close();
  }
}
