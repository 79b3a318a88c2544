// Loaded with `node --import` before any application module: the place where
// library instrumentations will be registered, since they must patch a
// library before it is first imported. None is registered yet, so only spans
// made through the OpenTelemetry API are recorded. Reads only the SDK's own
// OTEL_* variables. Spans are exported only when an OTLP endpoint (or an
// explicit OTEL_TRACES_EXPORTER) is configured; otherwise no tracer provider
// is installed and the API stays a no-op.
import { basename, dirname } from 'node:path';
import { NodeSDK } from '@opentelemetry/sdk-node';

const env = process.env;
const exporting = Boolean(
  env.OTEL_EXPORTER_OTLP_ENDPOINT ||
    env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ||
    (env.OTEL_TRACES_EXPORTER && env.OTEL_TRACES_EXPORTER !== 'none'),
);

function serviceNameFromEntry(): string {
  const entry = process.argv[1] ?? 'shortener';
  const file = basename(entry).replace(/\.[cm]?[jt]s$/, '');
  return file === 'main' ? basename(dirname(entry)) : file;
}

const sdk = new NodeSDK({
  serviceName: env.OTEL_SERVICE_NAME || `shortener-${serviceNameFromEntry()}`,
  instrumentations: [],
  ...(exporting ? {} : { spanProcessors: [], logRecordProcessors: [], metricReaders: [] }),
});
sdk.start();

let stopping = false;
export async function shutdownTelemetry(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await sdk.shutdown();
}
