// The bus's messaging spans (lib/bus/tracing.ts), the same on both adapters:
// the trace context travels with the message (AMQP headers on RabbitMQ),
// through retries, into the consumer's processing span. This process records
// its spans with the SDK's own in-memory exporter and propagates W3C trace
// context, as the preload sets it up.

import {
  context,
  propagation,
  ROOT_CONTEXT,
  type SpanContext,
  SpanKind,
  trace,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  AlwaysOnSampler,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import type { Bus, Delivery } from '../../lib/bus/bus.ts';
import type { Topology } from '../../lib/bus/topology.ts';
import { telemetry } from '../../lib/telemetry/tracing.ts';
import { BUS_FLAVOURS, removeTopology, testTopology } from '../support/bus.ts';
import { within } from '../support/wait.ts';

const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({
  sampler: new AlwaysOnSampler(),
  spanProcessors: [new SimpleSpanProcessor({ exporter })],
});
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  telemetry.tracing = true;
});
afterAll(async () => {
  telemetry.tracing = false;
  await provider.shutdown();
  trace.disable();
  propagation.disable();
  context.disable();
});

const bytes = (text: string) => new TextEncoder().encode(text);

/** A sampled operation of some other process (a redirect, say). */
function sampledOperation(): SpanContext {
  const tracer = provider.getTracer('test');
  const span = tracer.startSpan('redirect', {}, ROOT_CONTEXT);
  span.end();
  return span.spanContext();
}

const finished = (name: string) =>
  exporter.getFinishedSpans().filter((span) => span.name.includes(name));
const idOf = (span: ReadableSpan) => span.spanContext().spanId;

describe.each(BUS_FLAVOURS)('bus tracing ($name)', (flavour) => {
  const opened: { bus: Bus; topology: Topology }[] = [];

  async function busFor(consumers: Record<string, string[]>) {
    const { topology, names } = testTopology(consumers);
    const bus = await flavour.open(topology);
    opened.push({ bus, topology });
    return { bus, names };
  }

  afterEach(async () => {
    for (const { bus, topology } of opened.splice(0)) {
      await bus.close();
      if (flavour.name === 'rabbitmq') await removeTopology(topology);
    }
    exporter.reset();
  });

  test('when a message is published on behalf of two sampled operations, then its publish is a child of the first and links to both, and the consumer processes it in a child span of the publish', async () => {
    const { bus, names } = await busFor({ visits: ['link.clicked'] });
    const first = sampledOperation();
    const second = sampledOperation();
    const active: (SpanContext | undefined)[] = [];
    bus.consume(names.visits as string, async () => {
      active.push(trace.getActiveSpan()?.spanContext());
    });

    await bus.publish('link.clicked', bytes('two clicks'), { onBehalfOf: [first, second] });
    await within(5_000, () => finished('process').length === 1);

    const [publish] = finished('publish link.clicked');
    expect(publish?.kind).toBe(SpanKind.PRODUCER);
    expect(publish?.spanContext().traceId).toBe(first.traceId);
    expect(publish?.parentSpanContext?.spanId).toBe(first.spanId);
    expect(publish?.links.map((link) => link.context.spanId)).toEqual([
      first.spanId,
      second.spanId,
    ]);
    expect(publish?.attributes['messaging.system']).toBe(
      flavour.name === 'rabbitmq' ? 'rabbitmq' : 'in-process',
    );
    const [processing] = finished('process');
    expect(processing?.kind).toBe(SpanKind.CONSUMER);
    expect(processing?.name).toBe(`process ${names.visits}`);
    expect(processing?.parentSpanContext?.spanId).toBe(publish && idOf(publish));
    expect(processing?.spanContext().traceId).toBe(first.traceId);
    // The handler runs inside it: what it does joins the trace.
    expect(active[0]?.spanId).toBe(processing && idOf(processing));
  });

  test('when a handler fails once, then both attempts are processing spans of the same publish, and the failed one says why', async () => {
    const { bus, names } = await busFor({ mailer: ['identity.password_reset_requested'] });
    let attempts = 0;
    bus.consume(names.mailer as string, async () => {
      attempts++;
      if (attempts === 1) throw new Error('smtp server away');
    });
    const operation = sampledOperation();
    await context.with(trace.setSpanContext(ROOT_CONTEXT, operation), () =>
      bus.publish('identity.password_reset_requested', bytes('reset')),
    );
    await within(5_000, () => finished('process').length === 2);

    const [publish] = finished('publish');
    // Without onBehalfOf, the active span is the publish's parent.
    expect(publish?.parentSpanContext?.spanId).toBe(operation.spanId);
    const processings = finished('process');
    expect(processings.map((span) => span.parentSpanContext?.spanId)).toEqual([
      publish && idOf(publish),
      publish && idOf(publish),
    ]);
    expect(processings.map((span) => span.attributes['shortener.delivery.attempt'])).toEqual([
      1, 2,
    ]);
    expect(processings[0]?.status).toEqual({ code: 2, message: 'smtp server away' });
    expect(processings[1]?.status.code).toBe(0);
  });

  test('when a consumer takes several messages in one call, then its processing span links to the publish of each', async () => {
    const { bus, names } = await busFor({ visits: ['link.clicked'] });
    const operations = [sampledOperation(), sampledOperation(), sampledOperation()];
    for (const [i, operation] of operations.entries()) {
      await bus.publish('link.clicked', bytes(String(i)), { onBehalfOf: [operation] });
    }
    const sizes: number[] = [];
    bus.consume(
      names.visits as string,
      async (batch: readonly Delivery[]) => {
        sizes.push(batch.length);
      },
      { batchSize: 10, batchWaitMs: 200 },
    );
    await within(5_000, () => sizes.length === 1);
    await within(1_000, () => finished('process').length === 1);

    expect(sizes).toEqual([3]);
    const publishes = finished('publish').map(idOf);
    const [processing] = finished('process');
    expect(processing?.attributes['messaging.batch.message_count']).toBe(3);
    expect(processing?.parentSpanContext?.spanId).toBe(publishes[0]);
    expect(processing?.links.map((link) => link.context.spanId)).toEqual(publishes);
  });

  test('when a batch carries no sampled operation, then its publish starts a trace of its own, not the active span’s', async () => {
    const { bus, names } = await busFor({ visits: ['link.clicked'] });
    bus.consume(names.visits as string, async () => {});
    const unrelated = sampledOperation();

    await context.with(trace.setSpanContext(ROOT_CONTEXT, unrelated), () =>
      bus.publish('link.clicked', bytes('unsampled'), { onBehalfOf: [] }),
    );
    await within(5_000, () => finished('process').length === 1);

    const [publish] = finished('publish');
    expect(publish?.parentSpanContext).toBeUndefined();
    expect(publish?.links).toEqual([]);
    expect(publish?.spanContext().traceId).not.toBe(unrelated.traceId);
  });
});
