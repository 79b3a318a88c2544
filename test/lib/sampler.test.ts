// The default sampler (lib/telemetry/sampler.ts): parent-based, a share of
// new traces given by OTEL_TRACES_SAMPLER_ARG, 1% unless set.
import { randomBytes } from 'node:crypto';
import { ROOT_CONTEXT, SpanKind, TraceFlags, trace } from '@opentelemetry/api';
import { SamplingDecision } from '@opentelemetry/sdk-trace';
import { describe, expect, test } from 'vitest';
import {
  CHOSEN_NEW_TRACE,
  DEFAULT_SAMPLE_RATIO,
  defaultSampler,
} from '../../lib/telemetry/sampler.ts';

const TRACES = 20_000;

/** The share of `TRACES` new traces (random ids, no parent) the sampler keeps. */
function sampledShare(env: Record<string, string>): number {
  const sampler = defaultSampler(env);
  if (!sampler) throw new Error('no default sampler');
  let kept = 0;
  for (let i = 0; i < TRACES; i++) {
    const traceId = randomBytes(16).toString('hex');
    const { decision } = sampler.shouldSample(
      ROOT_CONTEXT,
      traceId,
      'GET',
      SpanKind.SERVER,
      {},
      [],
    );
    if (decision === SamplingDecision.RECORD_AND_SAMPLED) kept++;
  }
  return kept / TRACES;
}

function decisionUnder(flags: TraceFlags): SamplingDecision | undefined {
  const parent = trace.setSpanContext(ROOT_CONTEXT, {
    traceId: randomBytes(16).toString('hex'),
    spanId: randomBytes(8).toString('hex'),
    traceFlags: flags,
    isRemote: true,
  });
  return defaultSampler({})?.shouldSample(parent, 'ignored', 'GET', SpanKind.SERVER, {}, [])
    .decision;
}

describe('the default sampler', () => {
  test('when nothing is configured, then about one new trace in a hundred is sampled', () => {
    expect(DEFAULT_SAMPLE_RATIO).toBe(0.01);
    const share = sampledShare({});
    expect(share).toBeGreaterThan(0.005);
    expect(share).toBeLessThan(0.015);
  });

  test('when OTEL_TRACES_SAMPLER_ARG gives a ratio, then that share of new traces is sampled', () => {
    const share = sampledShare({ OTEL_TRACES_SAMPLER_ARG: '0.5' });
    expect(share).toBeGreaterThan(0.45);
    expect(share).toBeLessThan(0.55);
    expect(sampledShare({ OTEL_TRACES_SAMPLER_ARG: '0' })).toBe(0);
  });

  test('when OTEL_TRACES_SAMPLER_ARG is no ratio, then the default share applies', () => {
    for (const arg of ['2', '-1', 'half', ' ']) {
      const share = sampledShare({ OTEL_TRACES_SAMPLER_ARG: arg });
      expect(share, arg).toBeGreaterThan(0.005);
      expect(share, arg).toBeLessThan(0.015);
    }
  });

  test('when a request arrives with a trace context, then its sampled flag decides', () => {
    expect(decisionUnder(TraceFlags.SAMPLED)).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(decisionUnder(TraceFlags.NONE)).toBe(SamplingDecision.NOT_RECORD);
  });

  test('when OTEL_TRACES_SAMPLER names a sampler, then the SDK’s own reading of it is left alone', () => {
    expect(defaultSampler({ OTEL_TRACES_SAMPLER: 'always_on' })).toBeUndefined();
  });
});

describe('a new trace already drawn for sampling', () => {
  test('when a root span starts in CHOSEN_NEW_TRACE, then the default sampler samples it, whatever its ratio', () => {
    const sampler = defaultSampler({ OTEL_TRACES_SAMPLER_ARG: '0' });
    const traceId = randomBytes(16).toString('hex');
    expect(
      sampler?.shouldSample(CHOSEN_NEW_TRACE, traceId, 'GET', SpanKind.SERVER, {}, []).decision,
    ).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(
      sampler?.shouldSample(ROOT_CONTEXT, traceId, 'GET', SpanKind.SERVER, {}, []).decision,
    ).toBe(SamplingDecision.NOT_RECORD);
  });

  test('when a span with a parent starts in it, then the parent still decides', () => {
    const parent = trace.setSpanContext(CHOSEN_NEW_TRACE, {
      traceId: randomBytes(16).toString('hex'),
      spanId: randomBytes(8).toString('hex'),
      traceFlags: TraceFlags.NONE,
      isRemote: true,
    });
    expect(
      defaultSampler({})?.shouldSample(parent, 'ignored', 'GET', SpanKind.SERVER, {}, []).decision,
    ).toBe(SamplingDecision.NOT_RECORD);
  });
});
