// What the bus tells the metrics and the alerts: messages published and not,
// every settled delivery by outcome, and each consumer's queue depth (its lag)
// when scraped. A dead letter raises an alert, except in the notifier's own
// alert queue: an alert about failing to post alerts would only feed the loop
// that is failing.
import type { Alerts } from '../alerts/alerts.ts';
import type { Metrics } from '../metrics/metrics.ts';
import { messageOf, type SettleWatch } from './batches.ts';
import type { Bus } from './bus.ts';
import { CONSUMERS } from './catalog.ts';

export interface BusObservers {
  metrics?: Metrics;
  alerts?: Alerts;
}

/** Per consumer queue (named with the bus's prefix), what to do with each settled delivery. */
export function settleWatch(
  prefix: string,
  { metrics, alerts }: BusObservers,
): ((queue: string) => SettleWatch) | undefined {
  if (!metrics && !alerts) return undefined;
  return (queue) => {
    const consumer = queue.startsWith(prefix) ? queue.slice(prefix.length) : queue;
    const raises = consumer !== CONSUMERS.opsAlerts.name;
    const counts = metrics && {
      handled: metrics.busDeliveries.labels(consumer, 'handled'),
      retried: metrics.busDeliveries.labels(consumer, 'retried'),
      dead_lettered: metrics.busDeliveries.labels(consumer, 'dead_lettered'),
    };
    return (outcome, delivery, error) => {
      counts?.[outcome].inc();
      if (outcome !== 'dead_lettered' || !raises) return;
      alerts?.event(
        'dead_letter',
        consumer,
        `one ${delivery.routingKey} message was parked in ${queue}.dead after ${delivery.attempt} attempts: ${messageOf(error)}`,
      );
    };
  };
}

/** A scrape does not wait longer than this for a queue's depth: an absent broker shows as none. */
const DEPTH_TIMEOUT_MS = 2_000;

function within<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('no answer in time')), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/** The bus, counting what it publishes and reporting the depth of the queues it consumes. */
export function countedBus(bus: Bus, metrics: Metrics): Bus {
  const consumed = new Set<string>();
  const unwatch = metrics.watchQueues(async () => {
    const depths = await Promise.all(
      [...consumed].map((consumer) =>
        within(bus.depth(consumer), DEPTH_TIMEOUT_MS).then(
          (ready) => [[consumer, ready] as const],
          () => [],
        ),
      ),
    );
    return new Map(depths.flat());
  });
  return {
    async publish(routingKey, body, options) {
      try {
        await bus.publish(routingKey, body, options);
      } catch (error) {
        metrics.busPublishFailures.inc({ routing_key: routingKey });
        throw error;
      }
      metrics.busPublished.inc({ routing_key: routingKey });
    },
    consume(consumer, handler, options) {
      consumed.add(consumer);
      return bus.consume(consumer, handler, options);
    },
    depth: (consumer) => bus.depth(consumer),
    deadLetters: (consumer, limit) => bus.deadLetters(consumer, limit),
    async close() {
      unwatch();
      await bus.close();
    },
  };
}
