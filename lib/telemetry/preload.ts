// Loaded with `node --import` before any application module, so the library
// instrumentations (gRPC client and server, ioredis, mysql2) patch their
// libraries before anything imports them: the project is native ESM, so the
// import-in-the-middle loader hook is registered first, for those libraries
// only. HTTP server spans (the redirect path and Fastify) and the bus's
// messaging spans are made by the mesh itself (gateway/server-spans.ts,
// lib/bus/tracing.ts), where they cost least. Reads only the SDK's own OTEL_*
// variables:
// - OTEL_SDK_DISABLED=true installs nothing at all;
// - spans are exported (batched, OTLP, http/protobuf unless
//   OTEL_EXPORTER_OTLP_PROTOCOL says otherwise) only when an OTLP endpoint or
//   an explicit OTEL_TRACES_EXPORTER is set, and OTEL_TRACES_EXPORTER is not
//   `none`; otherwise nothing is patched and the API stays a no-op;
// - without OTEL_TRACES_SAMPLER, the sampler is parent-based with a trace-id
//   ratio of OTEL_TRACES_SAMPLER_ARG, 1% unless set (sampler.ts).
import { register } from 'node:module';
import { basename, dirname } from 'node:path';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { defaultSampler, sampleRatio } from './sampler.ts';
import { maskStatement } from './statements.ts';
import { SERVICE_VERSION, telemetry } from './tracing.ts';

/** The libraries patched, by the names the mesh imports them under. */
const INSTRUMENTED = ['@grpc/grpc-js', 'ioredis', 'mysql2', 'mysql2/promise'];

const env = process.env;
const disabled = env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true';
const exporter = env.OTEL_TRACES_EXPORTER?.trim();
const exporting =
  !disabled &&
  exporter !== 'none' &&
  Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || exporter);

function serviceNameFromEntry(): string {
  const entry = process.argv[1] ?? 'shortener';
  const file = basename(entry).replace(/\.[cm]?[jt]s$/, '');
  return file === 'main' ? basename(dirname(entry)) : file;
}

/**
 * Patches the libraries' ESM imports: in the application thread where Node
 * allows it (module.registerHooks; no round trip to a loader thread per
 * module resolved at start-up), else through a loader thread.
 */
async function hookImports(): Promise<void> {
  const hooks = await import('import-in-the-middle/register-hooks.mjs');
  if (hooks.supportsSyncHooks()) hooks.register({ include: INSTRUMENTED });
  else
    register('import-in-the-middle/hook.mjs', import.meta.url, { data: { include: INSTRUMENTED } });
}

async function instrumentations() {
  await hookImports();
  const [{ GrpcInstrumentation }, { IORedisInstrumentation }, { MySQL2Instrumentation }] =
    await Promise.all([
      import('@opentelemetry/instrumentation-grpc'),
      import('@opentelemetry/instrumentation-ioredis'),
      import('@opentelemetry/instrumentation-mysql2'),
    ]);
  return [
    // Health checks run every few seconds on every channel: noise, not requests.
    new GrpcInstrumentation({ ignoreGrpcMethods: ['Check', 'Watch'] }),
    // Lease renewals, pub/sub and cache feeds are background chatter; Redis
    // is traced within a request or a message's processing. Keys hold client
    // addresses and token hashes: a span names the command only.
    new IORedisInstrumentation({
      requireParentSpan: true,
      dbStatementSerializer: (command, args) => `${command} [${args.length} arguments]`,
    }),
    // Never the values (addresses, emails, password and token hashes), which
    // the instrumentation would otherwise format into the statement.
    new MySQL2Instrumentation({ maskStatement: true, maskStatementHook: maskStatement }),
  ];
}

const sampler = exporting ? defaultSampler(env) : undefined;
const sdk = new NodeSDK({
  serviceName: env.OTEL_SERVICE_NAME || `shortener-${serviceNameFromEntry()}`,
  // OTEL_RESOURCE_ATTRIBUTES still wins over these (the SDK merges it last).
  resource: defaultResource().merge(resourceFromAttributes({ 'service.version': SERVICE_VERSION })),
  instrumentations: exporting ? await instrumentations() : [],
  ...(exporting ? { sampler } : { spanProcessors: [] }),
  // Traces only, unless metrics or logs over OTLP are asked for by name: the
  // SDK would otherwise start both exporters beside the traces' endpoint.
  ...(env.OTEL_METRICS_EXPORTER ? {} : { metricReaders: [] }),
  ...(env.OTEL_LOGS_EXPORTER ? {} : { logRecordProcessors: [] }),
});
sdk.start();
telemetry.tracing = exporting;
telemetry.newTraceRatio = sampler ? sampleRatio(env) : undefined;

let stopping = false;
export async function shutdownTelemetry(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await sdk.shutdown();
}
