// Alerts across instances: two processes (each a raiser and a notifier, as
// two replicas of a service run) on one RabbitMQ and one Redis post to a real
// HTTP listener. The same failure raised by both over a simulated minute is
// one post; an outage raised and cleared by both is one alert and one
// "resolved"; a webhook that is down has the alert retried, then parked,
// without an alert about the alert.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CONSUMERS } from '../../lib/bus/catalog.ts';
import { busSettings } from '../../lib/bus/config.ts';
import { topologyOf } from '../../lib/bus/open.ts';
import { type ConfigOf, loadConfig } from '../../lib/config/load.ts';
import {
  type OpenInfrastructure,
  openInfrastructure,
  type RunningService,
  startService,
} from '../../lib/service.ts';
import { defineNotifierService, notifierService } from '../../services/notifier/main.ts';
import { removeTopology } from '../support/bus.ts';
import { TestClock } from '../support/clock.ts';
import { RABBITMQ_URL, REDIS_URL, uniqueName } from '../support/env.ts';
import { testLog } from '../support/logger.ts';
import { sleep, within } from '../support/wait.ts';
import { WebhookListener } from '../support/webhook.ts';

const SETTINGS = { notifier: notifierService.settings, bus: busSettings };

interface Instance {
  infrastructure: OpenInfrastructure;
  notifier: RunningService;
  dataDir: string;
}

describe('operations alerts from two instances (rabbitmq+redis)', () => {
  const name = uniqueName('alerts');
  const clock = new TestClock();
  let webhook: WebhookListener;
  let config: ConfigOf<typeof SETTINGS>;
  const instances: Instance[] = [];

  async function startInstance(): Promise<Instance> {
    const dataDir = mkdtempSync(join(tmpdir(), 'alerts-'));
    const own = { ...config, notifier: { ...config.notifier, outboxDir: join(dataDir, 'outbox') } };
    own.notifier.databaseUrl = `sqlite:${join(dataDir, 'notifier.sqlite')}`;
    const infrastructure = await openInfrastructure(own, own.bus, testLog, 'notifier');
    const notifier = await startService(
      defineNotifierService({ now: clock.now }),
      own.notifier,
      own,
      testLog,
      infrastructure,
    );
    await notifier.ready;
    return { infrastructure, notifier, dataDir };
  }

  /** Alert events raised so far that a notifier is to handle (post or suppress). */
  let raised = 0;
  /** Waits until the notifiers have handled every alert event raised so far. */
  const settled = () => within(10_000, async () => (await handled()) === raised);

  /** Alert events the notifiers have handled so far, posted or not. */
  async function handled(): Promise<number> {
    let total = 0;
    for (const { infrastructure } of instances) {
      const [posted, suppressed] = await Promise.all([
        infrastructure.metrics.alertsPosted.get(),
        infrastructure.metrics.alertsSuppressed.get(),
      ]);
      for (const sample of [...posted.values, ...suppressed.values]) total += sample.value;
    }
    return total;
  }

  beforeAll(async () => {
    webhook = await WebhookListener.open();
    config = loadConfig(SETTINGS, {
      LOG_LEVEL: 'silent',
      REDIS_URL,
      REDIS_KEY_PREFIX: `${name}:`,
      RABBITMQ_URL,
      BUS_EXCHANGE: `${name}.events`,
      BUS_QUEUE_PREFIX: `${name}.`,
      BUS_RETRY_ATTEMPTS: '3',
      BUS_RETRY_DELAY: '100ms',
      BUS_RETRY_MAX_DELAY: '200ms',
      NOTIFIER_GRPC_LISTEN: '127.0.0.1:0',
      NOTIFIER_ALERT_WEBHOOK_URL: webhook.url,
      NOTIFIER_ALERT_WINDOW: '10m',
    });
    instances.push(await startInstance(), await startInstance());
  });

  afterAll(async () => {
    for (const { infrastructure, notifier, dataDir } of instances) {
      await notifier.stop();
      await infrastructure.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
    if (config) await removeTopology(topologyOf(config.bus));
    await webhook?.stop();
  });

  test('when both instances raise the same dead letter every 5 s for a simulated minute, then the webhook gets one post', async () => {
    const subject = `${name}.visit-recorder`;
    for (let step = 0; step <= 12; step++) {
      for (const { infrastructure } of instances) {
        infrastructure.alerts.event('dead_letter', subject, `step ${step}: a message was parked`);
        raised++;
      }
      await settled();
      clock.advance(5_000);
    }
    const posts = webhook.posts.filter((p) => String(p.body.text).includes(subject));
    expect(posts).toHaveLength(1);
    expect(String(posts[0]?.body.text)).toMatch(/^:rotating_light: FIRING dead_letter /);
    expect(String(posts[0]?.body.text)).toContain('step 0: a message was parked');

    // Past the window, the same failure is worth a reminder: one more post.
    clock.advance(10 * 60_000);
    instances[0]?.infrastructure.alerts.event('dead_letter', subject, 'still parking');
    raised++;
    await settled();
    await within(
      10_000,
      () => webhook.posts.filter((p) => String(p.body.text).includes(subject)).length === 2,
    );
  });

  test('when both instances see an outage and then its end, then the webhook gets one alert and one "resolved"', async () => {
    const subject = `${name}:database`;
    const about = () =>
      webhook.posts.map((p) => String(p.body.text)).filter((t) => t.includes(subject));
    await settled();
    for (const { infrastructure } of instances) {
      infrastructure.alerts.fire('dependency_down', subject, `${subject} unreachable`);
      // A condition already firing here is not published again.
      infrastructure.alerts.fire('dependency_down', subject, `${subject} unreachable`);
      raised++;
    }
    await settled();
    clock.advance(30_000);
    for (const { infrastructure } of instances) {
      infrastructure.alerts.resolve('dependency_down', subject, `${subject} works again`);
      raised++;
    }
    await settled();
    await sleep(100);
    expect(about()).toHaveLength(2);
    expect(about()[0]).toMatch(/^:rotating_light: FIRING dependency_down /);
    expect(about()[1]).toMatch(/^:white_check_mark: RESOLVED dependency_down /);
  });

  test('when the webhook is down, then the alert is retried and parked without an alert about it, and posted once it is back', async () => {
    const subject = `${name}.expiry-notices`;
    const raised = async () => {
      let total = 0;
      for (const { infrastructure } of instances) {
        const { values } = await infrastructure.metrics.alertsRaised.get();
        total += values.reduce((sum, v) => sum + v.value, 0);
      }
      return total;
    };
    webhook.down = true;
    const before = await raised();
    const bus = instances[0]?.infrastructure.bus;
    instances[0]?.infrastructure.alerts.event('dead_letter', subject, 'a message was parked');
    await within(
      10_000,
      async () => (await bus?.deadLetters(CONSUMERS.opsAlerts.name))?.length === 1,
    );
    await sleep(300);
    // The one alert raised was the dead letter itself; its own parking raised none.
    expect(await raised()).toBe(before + 1);
    const [parked] = (await bus?.deadLetters(CONSUMERS.opsAlerts.name)) ?? [];
    expect(parked?.attempts).toBe(3);
    expect(parked?.error).toMatch(/webhook did not take/);

    webhook.down = false;
    instances[1]?.infrastructure.alerts.event('dead_letter', subject, 'another message was parked');
    await within(10_000, () =>
      webhook.posts.some((p) => String(p.body.text).includes('another message was parked')),
    );
  });
});
