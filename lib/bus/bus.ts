// Domain events between services, at least once and durably (RabbitMQ, or in
// process for the embedded mesh). Unlike the broadcast (at most once, for
// cache invalidations), nothing published here is dropped: a publish resolves
// only once the broker has the message, a message leaves its consumer's queue
// only once the handler resolved, a failing handler is retried with backoff
// and, after the last attempt, the message is parked in that consumer's
// dead-letter queue. Each consumer has its own queue, so a slow or failing
// consumer never delays another.

import type { SpanContext } from '@opentelemetry/api';

/** One message as a handler sees it. */
export interface Delivery {
  readonly body: Uint8Array;
  /** The routing key it was published with (e.g. `link.clicked`). */
  readonly routingKey: string;
  /** 1 on the first try; n on the n-th, after n − 1 failed handler calls. */
  readonly attempt: number;
  /**
   * True when this message may have been handled before: a retry, or a
   * redelivery after a lost connection or a stop. Handlers must be
   * idempotent anyway (by event id); this only says when it matters.
   */
  readonly redelivered: boolean;
  /** The W3C trace context (`traceparent`, `tracestate`) of its publish, when it carries one. */
  readonly headers?: Readonly<Record<string, unknown>>;
  /**
   * When it was first published (ms since the epoch, the publisher's clock;
   * to the second over RabbitMQ, whose `timestamp` property counts seconds),
   * kept across retries: how long it has waited. Undefined when its
   * publisher set none.
   */
  readonly publishedAt?: number;
}

/** Handles a batch of one or more deliveries; they are acknowledged only once it resolves. */
export type Handler = (deliveries: readonly Delivery[]) => Promise<void>;

export interface ConsumeOptions {
  /** Deliveries handed to one handler call, at most; 1 unless given. */
  batchSize?: number;
  /** How long a partial batch waits for more before it is handled; 0 unless given. */
  batchWaitMs?: number;
}

export interface PublishOptions {
  /** Rejects if the broker has not confirmed within this; the bus's publish timeout unless given. */
  timeoutMs?: number;
  /**
   * The traced operations the message is published on behalf of (lib/bus/tracing.ts);
   * the active span is the publish's parent unless given.
   */
  onBehalfOf?: readonly SpanContext[];
}

/** A message that failed every attempt, parked for an operator. */
export interface DeadLetter {
  readonly body: Uint8Array;
  readonly routingKey: string;
  readonly attempts: number;
  /** The last handler error's message. */
  readonly error: string;
}

export interface Subscription {
  /** Takes no more deliveries, lets the running handler finish, and hands back the rest unhandled. */
  stop(): Promise<void>;
}

/** Port: RabbitMQ, or in-process for the embedded mesh. */
export interface Bus {
  /** Resolves once the message is durable (a publisher confirm); rejects on a nack or timeout. */
  publish(routingKey: string, body: Uint8Array, options?: PublishOptions): Promise<void>;
  /** Starts consuming for a consumer of the bus's topology, one handler call at a time. */
  consume(consumer: string, handler: Handler, options?: ConsumeOptions): Subscription;
  /** Messages ready in `consumer`'s queue, not yet delivered: how far behind it is. */
  depth(consumer: string): Promise<number>;
  /** Copies of up to `limit` messages parked for `consumer`, oldest first; they stay parked. */
  deadLetters(consumer: string, limit?: number): Promise<DeadLetter[]>;
  /** Stops every subscription (draining), then disconnects. */
  close(): Promise<void>;
}
