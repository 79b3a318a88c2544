// Issue 17, traces: every part runs as the process it is in production
// (telemetry preloaded), exporting over OTLP/HTTP to a receiver of the test's
// own that decodes each export. A request that arrives with a sampled
// `traceparent` is traced whatever the ratio (parent-based sampling), so the
// stories run under the default sampler and know their trace id up front.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import packageJson from '../../package.json' with { type: 'json' };
import { newEmail, newMember } from '../support/accounts.ts';
import { call, newGuest, shorten } from '../support/http.ts';
import { OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.ts';
import { SmtpSink } from '../support/smtp-sink.ts';
import { type ProcessMesh, startProcessMesh } from '../support/traced-mesh.ts';
import { sleep } from '../support/wait.ts';

const RESOLVE_LINKS = 'shortener.v1.LinkService/ResolveLinks';
/** Every consumer of a click, by the service it runs in. */
const CONSUMERS = [
  ['shortener-analytics', 'analytics.visit-recorder'],
  ['shortener-analytics', 'analytics.ranking-counter'],
  ['shortener-link', 'link.last-access-toucher'],
] as const;
/** A statement each consumer's storing of a click makes. */
const WRITES: Record<string, string> = {
  'analytics.visit-recorder': 'insert',
  'analytics.ranking-counter': 'eval',
  'link.last-access-toucher': 'update',
};

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
      LOG_LEVEL: 'info',
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
      // Its writes (MySQL or Redis) happen inside it, though an actor does them.
      const writes = all.filter((span) => span.parentSpanId === processing.spanId);
      expect(
        writes.map((span) => span.name),
        consumer,
      ).toContainEqual(WRITES[consumer]);
    }
  }, 60_000);

  test('when a member asks for a password reset, then one trace runs from the HTTP request through identity and the bus to the SMTP send, and the log lines on the way name it', async () => {
    const email = newEmail('traced');
    await newMember(mesh.url, email);
    const caller = callerContext();

    const answer = await call(mesh.url, 'POST', '/api/v1/password-resets', {
      json: { email },
      headers: { traceparent: caller.traceparent },
    });
    expect(answer.status).toBe(202);
    expect(answer.headers.get('traceresponse')).toMatch(
      new RegExp(`^00-${caller.traceId}-[0-9a-f]{16}-01$`),
    );

    const all = await receiver.waitForTrace(caller.traceId, [
      'POST /api/v1/password-resets',
      'publish identity.password_reset_requested',
      'notifier.password-reset-mailer',
      'smtp send',
    ]);
    const request = one(
      all,
      'shortener-gateway',
      'POST /api/v1/password-resets',
      'SPAN_KIND_SERVER',
    );
    expect(request.parentSpanId).toBe(caller.spanId);
    expect(request.attributes).toMatchObject({
      'http.route': '/api/v1/password-resets',
      'http.response.status_code': 202,
    });
    expect(answer.headers.get('traceresponse')).toBe(`00-${caller.traceId}-${request.spanId}-01`);
    const publish = one(all, 'shortener-identity', 'publish identity.password_reset_requested');
    const processing = one(all, 'shortener-notifier', 'notifier.password-reset-mailer');
    expect(processing.parentSpanId).toBe(publish.spanId);
    const send = one(all, 'shortener-notifier', 'smtp send', 'SPAN_KIND_CLIENT');
    // Every span of the trace descends from the request: no hop starts a trace of its own.
    const byId = new Map(all.map((span) => [span.spanId, span]));
    const ancestry = (span: ReceivedSpan): string[] => {
      const parent = byId.get(span.parentSpanId);
      return parent ? [...ancestry(parent), parent.name] : [];
    };
    expect(ancestry(send)[0]).toBe(request.name);
    expect(ancestry(publish)).toContain(request.name);
    expect(ancestry(send)).toContain(processing.name);
    // identity's handling in between: a gRPC server span of the identity service.
    expect(
      all.some((span) => span.service === 'shortener-identity' && span.kind === 'SPAN_KIND_SERVER'),
    ).toBe(true);
    // Statements are kept with placeholders only: no span holds the member's address.
    const statements = all.filter((span) => span.scope.includes('mysql2'));
    expect(statements.length).toBeGreaterThan(0);
    expect(JSON.stringify(all.map((span) => span.attributes))).not.toContain(email);
    const mails = await smtp.waitForMails(smtp.received.length);
    expect(mails.at(-1)?.recipients).toEqual([email]);
    // The notifier's log line about it names the trace and the span it was written in.
    const logged = mesh.processes.notifier
      .stdout()
      .split('\n')
      .filter((line) => line.includes(caller.traceId))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(logged.map((line) => line.msg)).toContain('mail sent');
    const sentLine = logged.find((line) => line.msg === 'mail sent');
    expect(all.map((span) => span.spanId)).toContain(sentLine?.span_id);
  }, 60_000);
});

describe('telemetry turned off (OTEL_SDK_DISABLED=true)', () => {
  let receiver: OtlpReceiver;
  let mesh: ProcessMesh;

  beforeAll(async () => {
    receiver = await OtlpReceiver.open();
    mesh = await startProcessMesh({
      OTEL_SDK_DISABLED: 'true',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: '200',
    });
  });
  afterAll(async () => {
    await mesh?.stop();
    await receiver?.close();
  });

  test('when redirects and a password reset are served with telemetry off, then nothing is exported, no trace id is answered and no process complains', async () => {
    const token = await newGuest(mesh.url);
    const made = await shorten(mesh.url, token, 'https://example.com/untraced');
    const email = newEmail('untraced');
    await newMember(mesh.url, email);
    const { traceparent } = callerContext();

    const redirect = await call(mesh.url, 'GET', `/${made.body.code}`, {
      headers: { traceparent },
    });
    const reset = await call(mesh.url, 'POST', '/api/v1/password-resets', {
      json: { email },
      headers: { traceparent },
    });
    expect([redirect.status, reset.status]).toEqual([302, 202]);
    expect(redirect.headers.get('traceresponse')).toBeNull();
    expect(reset.headers.get('traceresponse')).toBeNull();
    // Well past the export delay: an exporter would have sent by now.
    await sleep(1_500);
    await mesh.stop();
    expect(receiver.requests).toBe(0);
    expect(receiver.spans).toEqual([]);
    expect(mesh.stderr()).toBe('');
  }, 60_000);
});
