// What the bus is made of, as data: one topic exchange for domain events and,
// per consumer, a durable queue bound to its routing keys, one retry queue per
// backoff delay and a dead-letter queue. The RabbitMQ adapter declares exactly
// this (idempotently, on every connect), the in-process one mimics it, and
// deploy/rabbitmq/definitions.json is rendered from it.
//
// Retries on RabbitMQ: a handler that throws on attempt n < maxAttempts has
// its message republished (confirmed, then the original acked) to
// `<consumer>.retry.<delay>ms`, a queue with that message TTL and no consumer,
// whose dead-letter target is the default exchange with the consumer's queue
// as routing key: after the delay the message is back at the tail of the
// consumer's queue. The attempt count travels in our own header (x-death's
// counting changed across RabbitMQ versions and does not count republishes).
// After the last attempt the message goes to `<consumer>.dead` and stays.
// Retry queues are named by their delay, so changing the backoff declares new
// queues instead of failing on a redeclared TTL.
import { type BackoffPolicy, backoffDelay } from '../backoff.ts';

export interface ConsumerSpec {
  /** The consumer's queue name, e.g. `analytics.visit-recorder`. */
  readonly name: string;
  /** Topic patterns it is bound to (`link.clicked`, `link.*`, `#`). */
  readonly routingKeys: readonly string[];
}

export interface RetryPolicy {
  /** Handler calls a message gets before it is parked; 1 means no retry. */
  readonly maxAttempts: number;
  readonly backoff: BackoffPolicy;
}

/**
 * How RabbitMQ keeps the queues: `classic` (one node's), or `quorum`
 * (replicated by Raft across the cluster's nodes: they survive losing a
 * minority of them). A queue's type is fixed when it is first declared.
 */
export type QueueType = 'classic' | 'quorum';

export interface Topology {
  readonly exchange: string;
  readonly consumers: readonly ConsumerSpec[];
  readonly retry: RetryPolicy;
  /** `classic` unless given. */
  readonly queueType?: QueueType;
}

/** Headers the bus sets on a retried or parked message. */
export const HEADERS = {
  attempt: 'x-shortener-attempt',
  routingKey: 'x-shortener-routing-key',
  error: 'x-shortener-error',
} as const;

/** The delay before attempt `attempt` (2 for the first retry). */
export function retryDelayMs(policy: RetryPolicy, attempt: number): number {
  return backoffDelay(attempt - 2, { ...policy.backoff, jitter: 0 });
}

export function retryQueue(consumer: string, delayMs: number): string {
  return `${consumer}.retry.${delayMs}ms`;
}

export function deadQueue(consumer: string): string {
  return `${consumer}.dead`;
}

export interface QueueDeclaration {
  name: string;
  arguments: Record<string, string | number>;
}

/**
 * A consumer's queues: its own, its retry queues (one per distinct delay) and
 * its dead letters, all of one type. A classic queue is declared without the
 * type argument, as queues made before the setting existed were, so
 * redeclaring them matches.
 */
export function queuesOf(
  consumer: string,
  policy: RetryPolicy,
  queueType: QueueType = 'classic',
): QueueDeclaration[] {
  const typed: Record<string, string> = queueType === 'quorum' ? { 'x-queue-type': 'quorum' } : {};
  const delays = new Set<number>();
  for (let attempt = 2; attempt <= policy.maxAttempts; attempt++) {
    delays.add(retryDelayMs(policy, attempt));
  }
  return [
    { name: consumer, arguments: { ...typed } },
    ...[...delays].map((delayMs) => ({
      name: retryQueue(consumer, delayMs),
      arguments: {
        ...typed,
        'x-message-ttl': delayMs,
        'x-dead-letter-exchange': '',
        'x-dead-letter-routing-key': consumer,
      },
    })),
    { name: deadQueue(consumer), arguments: { ...typed } },
  ];
}

/** Whether a topic pattern (`*` one word, `#` zero or more) matches a routing key. */
export function topicMatches(pattern: string, routingKey: string): boolean {
  const match = (p: string[], k: string[]): boolean => {
    if (p.length === 0) return k.length === 0;
    const [head, ...rest] = p;
    if (head === '#') return match(rest, k) || (k.length > 0 && match(p, k.slice(1)));
    return k.length > 0 && (head === '*' || head === k[0]) && match(rest, k.slice(1));
  };
  return match(pattern.split('.'), routingKey.split('.'));
}

/** The topology as a RabbitMQ definitions file (`rabbitmqctl import_definitions`, load_definitions). */
export function definitionsOf(topology: Topology, vhost = '/') {
  return {
    exchanges: [
      {
        name: topology.exchange,
        vhost,
        type: 'topic',
        durable: true,
        auto_delete: false,
        internal: false,
        arguments: {},
      },
    ],
    queues: topology.consumers.flatMap((consumer) =>
      queuesOf(consumer.name, topology.retry, topology.queueType).map((queue) => ({
        name: queue.name,
        vhost,
        durable: true,
        auto_delete: false,
        arguments: queue.arguments,
      })),
    ),
    bindings: topology.consumers.flatMap((consumer) =>
      consumer.routingKeys.map((routingKey) => ({
        source: topology.exchange,
        vhost,
        destination: consumer.name,
        destination_type: 'queue',
        routing_key: routingKey,
        arguments: {},
      })),
    ),
  };
}
