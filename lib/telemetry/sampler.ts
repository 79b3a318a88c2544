// The sampler every process starts with unless OTEL_TRACES_SAMPLER names
// another: parent-based (a request arriving with a sampled traceparent is
// traced, an unsampled one is not), and for new traces a trace-id ratio of
// OTEL_TRACES_SAMPLER_ARG, DEFAULT_SAMPLE_RATIO unless set. Redirects are
// nearly all of the traffic, and tracing each costs more than the redirect
// path can spare (docs/decisions/0010-tracing.md).
import {
  ParentBasedSampler,
  type Sampler,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace';

/** The share of new traces (requests with no sampled parent) that are sampled. */
export const DEFAULT_SAMPLE_RATIO = 0.01;

type OtelEnv = Readonly<Record<string, string | undefined>>;

/** The default sampler; undefined when OTEL_TRACES_SAMPLER names one (the SDK reads it then). */
export function defaultSampler(env: OtelEnv): Sampler | undefined {
  if (env.OTEL_TRACES_SAMPLER) return undefined;
  return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(sampleRatio(env)) });
}

/** OTEL_TRACES_SAMPLER_ARG when it is a ratio (0 to 1), else the default, as the SDK treats it. */
export function sampleRatio(env: OtelEnv): number {
  const text = env.OTEL_TRACES_SAMPLER_ARG?.trim();
  const ratio = text ? Number(text) : Number.NaN;
  return ratio >= 0 && ratio <= 1 ? ratio : DEFAULT_SAMPLE_RATIO;
}
