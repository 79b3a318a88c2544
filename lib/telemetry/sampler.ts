// The sampler every process starts with unless OTEL_TRACES_SAMPLER names
// another: parent-based (a request arriving with a sampled traceparent is
// traced, an unsampled one is not), and for new traces a trace-id ratio of
// OTEL_TRACES_SAMPLER_ARG, DEFAULT_SAMPLE_RATIO unless set. Redirects are
// nearly all of the traffic, and tracing each costs more than the redirect
// path can spare (docs/decisions/0010-tracing.md).
import {
  type Attributes,
  type Context,
  createContextKey,
  type Link,
  ROOT_CONTEXT,
  type SpanKind,
  trace,
} from '@opentelemetry/api';
import {
  ParentBasedSampler,
  type Sampler,
  SamplingDecision,
  type SamplingResult,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace';

/** The share of new traces (requests with no sampled parent) that are sampled. */
export const DEFAULT_SAMPLE_RATIO = 0.01;

type OtelEnv = Readonly<Record<string, string | undefined>>;

const CHOSEN = createContextKey('shortener.new trace already chosen for sampling');

/**
 * The context of a new trace whose caller has drawn it for sampling already,
 * at the default sampler's ratio (gateway/server-spans.ts does, for requests
 * that carry no trace context: nearly every redirect, most of them not
 * sampled, which it then traces without the SDK). The default sampler
 * samples a root span started in it.
 */
export const CHOSEN_NEW_TRACE: Context = ROOT_CONTEXT.setValue(CHOSEN, true);

/** Parent-based at a trace-id ratio; a new trace already chosen (CHOSEN_NEW_TRACE) is sampled. */
class DefaultSampler implements Sampler {
  readonly #sampler: Sampler;

  constructor(ratio: number) {
    this.#sampler = new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
  }

  shouldSample(
    context: Context,
    traceId: string,
    name: string,
    kind: SpanKind,
    attributes: Attributes,
    links: Link[],
  ): SamplingResult {
    if (context.getValue(CHOSEN) === true && trace.getSpanContext(context) === undefined) {
      return { decision: SamplingDecision.RECORD_AND_SAMPLED };
    }
    return this.#sampler.shouldSample(context, traceId, name, kind, attributes, links);
  }

  toString(): string {
    return `Shortener{${this.#sampler.toString()}}`;
  }
}

/** The default sampler; undefined when OTEL_TRACES_SAMPLER names one (the SDK reads it then). */
export function defaultSampler(env: OtelEnv): Sampler | undefined {
  if (env.OTEL_TRACES_SAMPLER) return undefined;
  return new DefaultSampler(sampleRatio(env));
}

/** OTEL_TRACES_SAMPLER_ARG when it is a ratio (0 to 1), else the default, as the SDK treats it. */
export function sampleRatio(env: OtelEnv): number {
  const text = env.OTEL_TRACES_SAMPLER_ARG?.trim();
  const ratio = text ? Number(text) : Number.NaN;
  return ratio >= 0 && ratio <= 1 ? ratio : DEFAULT_SAMPLE_RATIO;
}
