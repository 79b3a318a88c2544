// Issue 17, traces: every part runs as the process it is in production
// (telemetry preloaded), exporting over OTLP/HTTP to a receiver of the test's
// own that decodes each export. A request that arrives with a sampled
// `traceparent` is traced whatever the ratio (parent-based sampling), so the
// stories run under the default sampler and know their trace id up front.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import packageJson from '../../package.json' with { type: 'json' };
import { call, newGuest, shorten } from '../support/http.ts';
import { OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.ts';
import { SmtpSink } from '../support/smtp-sink.ts';
import { type ProcessMesh, startProcessMesh } from '../support/traced-mesh.ts';

const RESOLVE_LINKS = 'shortener.v1.LinkService/ResolveLinks';
/** Every consumer of a click, by the service it runs in. */
const CONSUMERS = [
  ['shortener-analytics', 'analytics.visit-recorder'],
  ['shortener-analytics', 'analytics.ranking-counter'],
  ['shortener-link', 'link.last-access-toucher'],
] as const;

/** A caller's sampled trace context: a new trace id, the caller's span id. */
function callerContext() {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

function one(spans: ReceivedSpan[], service: string, name: string, kind?: string): ReceivedSpan {
  const found = spans.filter(
    (span) =>
      span.service === service &&
      span.name.endsWith(name) &&
      (kind === undefined || span.kind === kind),
  );
  expect(
    found.map((s) => `${s.service}: ${s.name}`),
    `one ${name} in ${service}`,
  ).toHaveLength(1);
  return found[0] as ReceivedSpan;
}

describe('traces exported over OTLP/HTTP by every process', () => {
  let receiver: OtlpReceiver;
  let smtp: SmtpSink;
  let mesh: ProcessMesh;

  beforeAll(async () => {
    receiver = await OtlpReceiver.open();
    smtp = await SmtpSink.open();
    mesh = await startProcessMesh({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: '200',
      NOTIFIER_SMTP_URL: smtp.url,
    });
  });
  afterAll(async () => {
    await mesh?.stop();
    await smtp?.stop();
    await receiver?.close();
  });

  test('when a redirect misses the near cache, then one trace holds the gateway’s span, the coalesced ResolveLinks call linked to it, the click’s publish and each consumer’s processing', async () => {
    const token = await newGuest(mesh.url);
    const made = await shorten(mesh.url, token, 'https://example.com/traced');
    expect(made.status).toBe(201);
    const caller = callerContext();

    const answer = await call(mesh.url, 'GET', `/${made.body.code}`, {
      headers: { traceparent: caller.traceparent, 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64)' },
    });
    expect(answer.status).toBe(302);
    const traceresponse = answer.headers.get('traceresponse') ?? '';
    expect(traceresponse).toMatch(new RegExp(`^00-${caller.traceId}-[0-9a-f]{16}-01$`));

    const all = await receiver.waitForTrace(caller.traceId, [
      'GET /:code',
      'resolve redirects',
      'publish link.clicked',
      ...CONSUMERS.map(([, consumer]) => consumer),
    ]);

    const redirect = one(all, 'shortener-gateway', 'GET /:code', 'SPAN_KIND_SERVER');
    expect(redirect.parentSpanId).toBe(caller.spanId);
    expect(traceresponse).toBe(`00-${caller.traceId}-${redirect.spanId}-01`);
    expect(redirect.attributes).toMatchObject({
      'http.route': '/:code',
      'http.request.method': 'GET',
      'http.response.status_code': 302,
    });
    expect(redirect.serviceVersion).toBe(packageJson.version);

    const resolve = one(all, 'shortener-gateway', 'resolve redirects');
    expect(resolve.parentSpanId).toBe(redirect.spanId);
    expect(resolve.links).toContainEqual({ traceId: caller.traceId, spanId: redirect.spanId });
    const client = one(all, 'shortener-gateway', RESOLVE_LINKS, 'SPAN_KIND_CLIENT');
    expect(client.parentSpanId).toBe(resolve.spanId);
    const server = one(all, 'shortener-link', RESOLVE_LINKS, 'SPAN_KIND_SERVER');
    expect(server.parentSpanId).toBe(client.spanId);

    const publish = one(all, 'shortener-gateway', 'publish link.clicked', 'SPAN_KIND_PRODUCER');
    expect(publish.parentSpanId).toBe(redirect.spanId);
    expect(publish.links).toContainEqual({ traceId: caller.traceId, spanId: redirect.spanId });
    expect(publish.attributes['messaging.system']).toBe('rabbitmq');

    for (const [service, consumer] of CONSUMERS) {
      const processing = one(all, service, consumer, 'SPAN_KIND_CONSUMER');
      expect(processing.parentSpanId, consumer).toBe(publish.spanId);
      expect(processing.attributes['messaging.operation.type']).toBe('process');
    }
  }, 60_000);
});
