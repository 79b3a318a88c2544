// The raiser of alerts: what it publishes on the bus, and when. A condition is
// one FIRING and one RESOLVED however often it is seen; a dependency becomes
// an alert only once it has failed for the threshold; an event is published
// each time; a bus that takes nothing fails no caller.
import { describe, expect, test } from 'vitest';
import { ClickBuffer } from '../../gateway/clicks/click-buffer.ts';
import { AlertState, OpsAlert } from '../../gen/shortener/v1/events.ts';
import { Alerts } from '../../lib/alerts/alerts.ts';
import { EVENTS } from '../../lib/bus/catalog.ts';
import { Metrics } from '../../lib/metrics/metrics.ts';
import { memorySharedState, redisSharedState } from '../../lib/shared-state.ts';
import { REDIS_URL, uniqueName } from '../support/env.ts';
import { testLog } from '../support/logger.ts';
import { sleep, within } from '../support/wait.ts';

/** Alerts publishing into a list, as the bus would carry them. */
function raiser(options: { thresholdMs?: number; failing?: boolean } = {}) {
  const published: OpsAlert[] = [];
  const metrics = new Metrics();
  const alerts = new Alerts({
    publish: async (routingKey, body) => {
      expect(routingKey).toBe(EVENTS.opsAlert);
      if (options.failing) throw new Error('broker unreachable');
      published.push(OpsAlert.decode(body));
    },
    service: 'link',
    log: testLog,
    metrics,
    dependencyThresholdMs: options.thresholdMs ?? 60_000,
  });
  const states = () =>
    published.map(
      (a) =>
        `${a.state === AlertState.ALERT_STATE_RESOLVED ? 'resolved' : 'firing'} ${a.fingerprint}`,
    );
  return { alerts, published, states, metrics };
}

describe('raising alerts', () => {
  test('when a condition is seen many times and then clears, then one FIRING and one RESOLVED are published', async () => {
    const { alerts, published, states } = raiser();
    for (let i = 0; i < 5; i++) alerts.fire('worker_id_lease_lost', 'link', 'lost worker id 7');
    alerts.resolve('worker_id_lease_lost', 'link', 'leased worker id 8');
    alerts.resolve('worker_id_lease_lost', 'link', 'leased worker id 8');
    await sleep(10);
    expect(states()).toEqual([
      'firing worker_id_lease_lost/link',
      'resolved worker_id_lease_lost/link',
    ]);
    expect(published[0]).toMatchObject({
      kind: 'worker_id_lease_lost',
      subject: 'link',
      service: 'link',
    });
    expect(published[0]?.eventId).toMatch(/^[0-9a-f]{32}$/);
    expect(published[0]?.eventId).not.toBe(published[1]?.eventId);
  });

  test('when a dependency fails past the threshold, then it is an alert, and its return resolves it; a blip is none', async () => {
    const { alerts, states } = raiser({ thresholdMs: 150 });
    alerts.dependencyFailing('link:database', 'database unreachable');
    alerts.dependencyFailing('link:database', 'database unreachable');
    alerts.dependencyFailing('link:cache', 'redis unreachable');
    await sleep(50);
    alerts.dependencyWorks('link:cache');
    expect(states()).toEqual([]);
    await within(2_000, () => states().length === 1);
    alerts.dependencyWorks('link:database');
    await sleep(200);
    expect(states()).toEqual([
      'firing dependency_down/link:database',
      'resolved dependency_down/link:database',
    ]);
  });

  test('when the bus takes nothing, then raising neither throws nor waits, and the attempt is counted', async () => {
    const { alerts, metrics } = raiser({ failing: true });
    expect(() => alerts.event('dead_letter', 'analytics.visit-recorder', 'parked')).not.toThrow();
    await sleep(10);
    const { values } = await metrics.alertsRaised.get();
    expect(values).toEqual([
      expect.objectContaining({ labels: { kind: 'dead_letter', state: 'firing' }, value: 1 }),
    ]);
  });

  test('when the click buffer fills while the broker is away, then dropping clicks is one alert, resolved once clicks are published again', async () => {
    const { alerts, states } = raiser({ thresholdMs: 100 });
    const broker = { down: true };
    const buffer = new ClickBuffer({
      publish: async () => {
        if (broker.down) throw new Error('broker unreachable');
      },
      nextEventId: () => String(Math.random()).slice(2),
      log: testLog,
      capacity: 2,
      flushMs: 1,
      alerts,
    });
    const click = {
      eventId: '',
      linkId: '1',
      ownerId: '2',
      code: 'abcdefg',
      at: 0,
      client: undefined,
    };
    for (let i = 0; i < 6; i++) buffer.record({ ...click });
    expect(buffer.counts.dropped).toBe(4);
    await within(2_000, () => states().includes('firing dependency_down/gateway:bus'));
    broker.down = false;
    await within(10_000, () => buffer.counts.published === 2);
    await within(2_000, () => states().length === 4);
    expect(states()).toEqual([
      'firing clicks_dropped/gateway',
      'firing dependency_down/gateway:bus',
      'resolved dependency_down/gateway:bus',
      'resolved clicks_dropped/gateway',
    ]);
    await buffer.stop(1_000);
  });
});

describe.each([
  { name: 'memory', open: async (metrics: Metrics) => memorySharedState(metrics) },
  {
    name: 'redis',
    open: (metrics: Metrics) =>
      redisSharedState({
        url: REDIS_URL,
        keyPrefix: `${uniqueName('limits')}:`,
        log: testLog,
        name: 'test',
        metrics,
      }),
  },
])('rate-limit rejections ($name)', ({ open }) => {
  test('when a caller goes past a limit, then each refusal is counted under the limit’s name, and admissions are not', async () => {
    const metrics = new Metrics();
    const state = await open(metrics);
    try {
      const rule = { limit: 2, windowMs: 60_000 };
      const decisions = [];
      for (let i = 0; i < 5; i++)
        decisions.push(await state.limiter.consume('create-ip', rule, '203.0.113.9'));
      expect(decisions.map((d) => d.allowed)).toEqual([true, true, false, false, false]);
      const { values } = await metrics.rateLimitRejections.get();
      expect(values).toEqual([
        expect.objectContaining({ labels: { limit: 'create-ip' }, value: 3 }),
      ]);
    } finally {
      await state.close();
    }
  });
});
