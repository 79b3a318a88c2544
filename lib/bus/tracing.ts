// Messaging spans, the same for both adapters (OpenTelemetry's messaging
// conventions): a producer span per publish, whose context travels with the
// message as W3C `traceparent`/`tracestate` headers (AMQP headers on
// RabbitMQ, the delivery itself in process), and a consumer span per handler
// call. A message published on behalf of many traced operations (a batch of
// clicks) is a child of the first sampled one and links to each; a handler
// call that takes many messages is a child of the first sampled message and
// links to each. The bus makes these spans itself rather than patching
// amqplib: amqp-connection-manager publishes from its own queue on a later
// turn, outside the publisher's context, and acks are batched.
import { type Span, type SpanContext, SpanKind, trace } from '@opentelemetry/api';
import { contextOfHeaders, headersOf, inSpan, onBehalfOf, tracer } from '../telemetry/tracing.ts';
import type { Delivery } from './bus.ts';

export type MessagingSystem = 'rabbitmq' | 'in-process';

const busTracer = tracer('shortener.bus');

/** A publish's span and the headers that carry its context. */
export interface Publishing {
  span: Span;
  headers: Record<string, string>;
}

/**
 * Starts the span of one publish. `carried`: the spans the message is sent on
 * behalf of (its own parent and links); the active context's span otherwise.
 */
export function startPublish(
  system: MessagingSystem,
  exchange: string,
  routingKey: string,
  carried: readonly SpanContext[] | undefined,
): Publishing {
  const { parent, links } = carried ? onBehalfOf(carried) : { parent: undefined, links: undefined };
  const span = busTracer.startSpan(
    `publish ${routingKey}`,
    {
      kind: SpanKind.PRODUCER,
      links,
      attributes: {
        'messaging.system': system,
        'messaging.operation.type': 'send',
        'messaging.operation.name': 'publish',
        'messaging.destination.name': exchange,
        'messaging.rabbitmq.destination.routing_key': routingKey,
      },
    },
    parent,
  );
  return { span, headers: headersOf(span) };
}

/** Runs a consumer's handler on a batch of deliveries in its consumer span. */
export function processing(
  system: MessagingSystem,
  consumer: string,
  deliveries: readonly Delivery[],
  handle: () => Promise<void>,
): Promise<void> {
  const published: SpanContext[] = [];
  for (const delivery of deliveries) {
    const span = trace.getSpanContext(contextOfHeaders(delivery.headers));
    if (span) published.push(span);
  }
  const { parent, links } = onBehalfOf(published);
  const first = deliveries[0];
  const span = busTracer.startSpan(
    `process ${consumer}`,
    {
      kind: SpanKind.CONSUMER,
      links,
      attributes: {
        'messaging.system': system,
        'messaging.operation.type': 'process',
        'messaging.operation.name': 'process',
        'messaging.consumer.group.name': consumer,
        'messaging.destination.subscription.name': consumer,
        'messaging.rabbitmq.destination.routing_key': first?.routingKey ?? '',
        'messaging.batch.message_count': deliveries.length,
        'shortener.delivery.attempt': first?.attempt ?? 1,
      },
    },
    parent,
  );
  return inSpan(span, handle);
}
