// How a process gets its bus: RabbitMQ when RABBITMQ_URL is set, else the
// in-process bus (right only when every service shares the process: the
// embedded mesh started by `npm start`). Either way the whole system's
// topology (catalog.ts) is declared, so a process that starts first makes
// the queues of consumers that start later, and nothing published is lost.
import type { Logger } from '../log.ts';
import type { Bus } from './bus.ts';
import { systemTopology } from './catalog.ts';
import type { BusConfig } from './config.ts';
import { MemoryBus } from './memory-bus.ts';
import { RabbitMqBus } from './rabbitmq-bus.ts';
import type { Topology } from './topology.ts';
import { type BusObservers, countedBus, settleWatch } from './watch.ts';

/** The system's topology as these settings name it on the broker. */
export function topologyOf(config: BusConfig): Topology {
  const system = systemTopology(config.exchange, config.retry);
  return {
    ...system,
    queueType: config.queueType,
    consumers: system.consumers.map((c) => ({ ...c, name: config.queuePrefix + c.name })),
  };
}

/** The bus these settings name; what it does is told to the observers given (lib/bus/watch.ts). */
export function openBus(config: BusConfig, log: Logger, observers: BusObservers = {}): Bus {
  const topology = topologyOf(config);
  const prefix = config.queuePrefix;
  const watch = settleWatch(prefix, observers);
  const bus = config.rabbitmqUrl
    ? new RabbitMqBus({
        url: config.rabbitmqUrl,
        topology,
        log,
        publishTimeoutMs: config.publishTimeoutMs,
        watch,
      })
    : new MemoryBus(topology, log, watch);
  const named = prefix ? withQueuePrefix(bus, prefix) : bus;
  return observers.metrics ? countedBus(named, observers.metrics) : named;
}

/** Consumers keep the names of the catalogue; their queues carry the prefix. */
function withQueuePrefix(bus: Bus, prefix: string): Bus {
  return {
    publish: (routingKey, body, options) => bus.publish(routingKey, body, options),
    consume: (consumer, handler, options) => bus.consume(prefix + consumer, handler, options),
    depth: (consumer) => bus.depth(prefix + consumer),
    deadLetters: (consumer, limit) => bus.deadLetters(prefix + consumer, limit),
    close: () => bus.close(),
  };
}
