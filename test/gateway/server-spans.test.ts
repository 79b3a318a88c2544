// The gateway's server spans under the default sampler (gateway/server-spans.ts):
// a request with no trace context is drawn for sampling at the configured
// ratio, and every response names its trace, sampled or not.
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { propagation, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startServerSpan, traceHeaders } from '../../gateway/server-spans.ts';
import { defaultSampler } from '../../lib/telemetry/sampler.ts';
import { telemetry } from '../../lib/telemetry/tracing.ts';

const TRACERESPONSE = /^00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])$/;

function request(headers: Record<string, string> = {}): IncomingMessage {
  return { method: 'GET', url: '/aBc1234', headers } as unknown as IncomingMessage;
}

/** A response as the span code sees it: it is closed once answered. */
function response(): ServerResponse & EventEmitter {
  return Object.assign(new EventEmitter(), {
    statusCode: 302,
    writableFinished: true,
  }) as unknown as ServerResponse & EventEmitter;
}

function traceresponseOf(answer: ServerResponse): RegExpExecArray {
  const headers: Record<string, string> = traceHeaders(answer, {
    location: 'https://example.com/',
  });
  const header = headers.traceresponse;
  const parsed = TRACERESPONSE.exec(header ?? '');
  if (!parsed) throw new Error(`not a traceresponse: ${header}`);
  return parsed;
}

describe('server spans under the default sampler', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    sampler: defaultSampler({}),
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });

  beforeAll(() => {
    trace.setGlobalTracerProvider(provider);
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  });
  afterAll(async () => {
    telemetry.newTraceRatio = undefined;
    await provider.shutdown();
    trace.disable();
    propagation.disable();
  });

  test('when requests carry no trace context, then the configured share of them is sampled and exported, and every answer names its own trace', () => {
    telemetry.newTraceRatio = 0.25;
    exporter.reset();
    const traces = new Set<string>();
    let sampled = 0;
    for (let i = 0; i < 4_000; i++) {
      const answer = response();
      const span = startServerSpan(request(), answer);
      const [, traceId, spanId, flags] = traceresponseOf(answer);
      expect(traceId).toBe(span.spanContext().traceId);
      expect(spanId).toBe(span.spanContext().spanId);
      expect(flags).toBe(span.isRecording() ? '01' : '00');
      traces.add(traceId as string);
      if (span.isRecording()) sampled++;
      answer.emit('close');
    }
    expect(traces.size).toBe(4_000);
    expect(sampled / 4_000).toBeGreaterThan(0.2);
    expect(sampled / 4_000).toBeLessThan(0.3);
    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(sampled);
    expect(spans.every((span) => span.parentSpanContext === undefined)).toBe(true);
    expect(spans[0]?.attributes).toMatchObject({
      'http.request.method': 'GET',
      'url.path': '/aBc1234',
      'http.response.status_code': 302,
    });
  });

  test('when the ratio is 1 or 0, then every new trace is sampled, or none is', () => {
    telemetry.newTraceRatio = 1;
    expect(startServerSpan(request(), response()).isRecording()).toBe(true);
    telemetry.newTraceRatio = 0;
    for (let i = 0; i < 100; i++) {
      expect(startServerSpan(request(), response()).isRecording()).toBe(false);
    }
  });

  test('when a request carries a trace context, then its sampled flag decides and the span joins its trace', () => {
    telemetry.newTraceRatio = 0;
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const sampled = startServerSpan(
      request({ traceparent: `00-${traceId}-00f067aa0ba902b7-01` }),
      response(),
    );
    expect(sampled.isRecording()).toBe(true);
    expect(sampled.spanContext().traceId).toBe(traceId);
    telemetry.newTraceRatio = 1;
    const unsampled = startServerSpan(
      request({ traceparent: `00-${traceId}-00f067aa0ba902b7-00` }),
      response(),
    );
    expect(unsampled.isRecording()).toBe(false);
    expect(unsampled.spanContext().traceId).toBe(traceId);
  });
});
