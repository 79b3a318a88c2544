// The mesh's metrics endpoint, scraped as Prometheus does, after traffic whose
// counts are known: N redirects are N found, K unknown codes are K not found,
// every click is published, and one malformed event is one dead letter — and
// one alert on the ops webhook, however often the same failure repeats.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { EVENTS } from '../../lib/bus/catalog.ts';
import { clickedLinks, redirects } from '../support/clicks.ts';
import { MESH_FLAVOURS, type MeshFlavour, startTestMesh, type TestMesh } from '../support/mesh.ts';
import { type Sample, sampleTotal, scrape } from '../support/metrics.ts';
import { within } from '../support/wait.ts';
import { WebhookListener } from '../support/webhook.ts';

/** A code of the right shape that was never issued. */
const unknownCode = () => `zz${randomBytes(4).toString('hex').slice(0, 5)}`;

describe.each(MESH_FLAVOURS)('metrics and alerts of the mesh (%s)', (flavour: MeshFlavour) => {
  let mesh: TestMesh;
  let webhook: WebhookListener;
  const metrics = () => scrape(mesh.mesh.metricsUrl);

  beforeAll(async () => {
    webhook = await WebhookListener.open();
    mesh = await startTestMesh(flavour, {
      NOTIFIER_ALERT_WEBHOOK_URL: webhook.url,
      BUS_RETRY_ATTEMPTS: '2',
      BUS_RETRY_DELAY: '100ms',
      BUS_RETRY_MAX_DELAY: '200ms',
    });
  });

  afterAll(async () => {
    await mesh?.stop();
    await webhook?.stop();
  });

  test('when N redirects and K unknown codes are served, then the scrape counts N found and K not found', async () => {
    const before = await metrics();
    const { codes } = await clickedLinks(mesh.url, 3);
    const found = await redirects(mesh.url, codes, 30, 10);
    expect(found.every((status) => status === 302)).toBe(true);
    const unknown = await Promise.all(
      Array.from({ length: 4 }, () =>
        fetch(`${mesh.url}/${unknownCode()}`, { redirect: 'manual' }).then((a) => a.status),
      ),
    );
    expect(unknown).toEqual([404, 404, 404, 404]);

    const after = await metrics();
    const delta = (name: string, labels: Record<string, string> = {}) =>
      sampleTotal(after, name, labels) - sampleTotal(before, name, labels);
    expect(delta('shortener_redirects_total', { outcome: 'found' })).toBe(30);
    expect(delta('shortener_redirects_total', { outcome: 'not_found' })).toBe(4);
    expect(delta('shortener_redirects_total', { outcome: 'failed' })).toBe(0);
    // Every redirect looked in the near cache first; the first of each code missed.
    expect(delta('shortener_near_cache_lookups_total')).toBe(34);
    expect(delta('shortener_near_cache_lookups_total', { result: 'miss' })).toBeGreaterThanOrEqual(
      7,
    );
    // The API's routes by template, and the link service's methods by status.
    expect(
      delta('http_server_request_duration_seconds_count', {
        http_route: '/api/v1/links',
        http_request_method: 'POST',
        http_response_status_code: '201',
      }),
    ).toBe(3);
    expect(
      delta('rpc_server_call_duration_seconds_count', {
        rpc_service: 'shortener.v1.LinkService',
        rpc_method: 'ResolveLinks',
        rpc_grpc_status_code: '0',
      }),
    ).toBeGreaterThan(0);
    expect(delta('shortener_cache_lookups_total', { cache: 'link' })).toBeGreaterThanOrEqual(7);
    // The clicks leave in batches; each is counted once the broker confirmed it.
    let latest: Sample[] = after;
    await within(10_000, async () => {
      latest = await metrics();
      return (
        sampleTotal(latest, 'shortener_clicks_published_total') -
          sampleTotal(before, 'shortener_clicks_published_total') ===
        30
      );
    });
    expect(sampleTotal(latest, 'shortener_clicks_dropped_total')).toBe(0);
    expect(sampleTotal(latest, 'shortener_worker_id_lease_valid', { part: 'gateway' })).toBe(1);
    expect(sampleTotal(latest, 'shortener_worker_id_lease_valid', { part: 'link' })).toBe(1);
    // And process metrics come along.
    expect(sampleTotal(latest, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
  });

  test('when a malformed event is parked, then one dead letter is counted and the webhook gets exactly one alert, also when it happens again', async () => {
    const before = await metrics();
    const consumer = 'notifier.password-reset-mailer';
    const deadLetters = async () =>
      sampleTotal(await metrics(), 'shortener_bus_deliveries_total', {
        consumer,
        outcome: 'dead_lettered',
      }) -
      sampleTotal(before, 'shortener_bus_deliveries_total', { consumer, outcome: 'dead_lettered' });
    const alertsAbout = () => webhook.posts.filter((p) => String(p.body.text).includes(consumer));

    await mesh.mesh.bus.publish(EVENTS.passwordResetRequested, new Uint8Array([0xff, 0xff, 0xff]));
    await within(10_000, async () => (await deadLetters()) === 1);
    expect(
      sampleTotal(await metrics(), 'shortener_bus_deliveries_total', {
        consumer,
        outcome: 'retried',
      }) - sampleTotal(before, 'shortener_bus_deliveries_total', { consumer, outcome: 'retried' }),
    ).toBe(1);
    await within(10_000, () => alertsAbout().length === 1);
    const [alert] = alertsAbout();
    expect(alert?.contentType).toBe('application/json');
    expect(String(alert?.body.text)).toMatch(/FIRING dead_letter notifier\.password-reset-mailer/);

    await mesh.mesh.bus.publish(EVENTS.passwordResetRequested, new Uint8Array([0xfe, 0xfe]));
    await within(10_000, async () => (await deadLetters()) === 2);
    await within(
      10_000,
      async () =>
        sampleTotal(await metrics(), 'shortener_alerts_suppressed_total', { reason: 'duplicate' }) >
        sampleTotal(before, 'shortener_alerts_suppressed_total', { reason: 'duplicate' }),
    );
    expect(alertsAbout()).toHaveLength(1);
    expect((await mesh.mesh.bus.deadLetters(consumer)).length).toBe(2);
  });

  test('when something other than GET /metrics is asked of the endpoint, then 404', async () => {
    const url = mesh.mesh.metricsUrl as string;
    expect((await fetch(url.replace(/\/metrics$/, '/'))).status).toBe(404);
    expect((await fetch(url, { method: 'POST' })).status).toBe(404);
  });
});
