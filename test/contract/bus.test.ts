import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { connect } from 'amqplib';
import { afterEach, describe, expect, test } from 'vitest';
import { LinkClickedBatch } from '../../gen/shortener/v1/events.ts';
import type { Bus, Delivery } from '../../lib/bus/bus.ts';
import { DEFAULT_EXCHANGE, systemTopology } from '../../lib/bus/catalog.ts';
import { busSettings } from '../../lib/bus/config.ts';
import { RabbitMqBus } from '../../lib/bus/rabbitmq-bus.ts';
import { definitionsOf, type Topology } from '../../lib/bus/topology.ts';
import { loadConfig } from '../../lib/config/load.ts';
import { BUS_FLAVOURS, QUORUM_FLAVOUR, removeTopology, testTopology } from '../support/bus.ts';
import { RABBITMQ_URL } from '../support/env.ts';
import { testLog } from '../support/logger.ts';
import { REPO_ROOT } from '../support/processes.ts';
import { OwnRabbitMq } from '../support/rabbitmq-server.ts';
import { sleep, within } from '../support/wait.ts';

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (delivery: Delivery) => new TextDecoder().decode(delivery.body);

describe.each([...BUS_FLAVOURS, QUORUM_FLAVOUR])('bus contract ($name)', (flavour) => {
  const opened: { bus: Bus; topology: Topology }[] = [];

  /** A bus on a topology of its own, closed (and removed from the broker) after the test. */
  async function busFor(consumers: Record<string, string[]>) {
    const { topology, names } = testTopology(consumers);
    const bus = await flavour.open(topology);
    opened.push({ bus, topology });
    return { bus, names };
  }

  afterEach(async () => {
    for (const { bus, topology } of opened.splice(0)) {
      await bus.close();
      if (flavour.name !== 'memory') await removeTopology(topology);
    }
  });

  test('when an event is confirmed, then every consumer bound to its routing key gets it, and only those', async () => {
    const { bus, names } = await busFor({
      visits: ['link.clicked'],
      anyLink: ['link.*'],
      identity: ['identity.#'],
    });
    const heard: Record<string, string[]> = { visits: [], anyLink: [], identity: [] };
    for (const label of Object.keys(heard)) {
      bus.consume(names[label] as string, async (batch) => {
        for (const d of batch) heard[label]?.push(`${d.routingKey}:${text(d)}`);
      });
    }
    await bus.publish('link.clicked', bytes('1'));
    await bus.publish('link.expired', bytes('2'));
    await bus.publish('identity.password_reset_requested', bytes('3'));
    await within(5_000, () => heard.anyLink?.length === 2 && heard.identity?.length === 1);
    await sleep(100);
    expect(heard).toEqual({
      visits: ['link.clicked:1'],
      anyLink: ['link.clicked:1', 'link.expired:2'],
      identity: ['identity.password_reset_requested:3'],
    });
  });

  test('when consumers share a routing key and one is stuck and one fails, then the other still gets every message at once', async () => {
    const { bus, names } = await busFor({
      fast: ['link.clicked'],
      stuck: ['link.clicked'],
      failing: ['link.clicked'],
    });
    const fast: string[] = [];
    const stuck: string[] = [];
    let unstick!: () => void;
    const stuckUntil = new Promise<void>((resolve) => {
      unstick = resolve;
    });
    bus.consume(names.fast as string, async ([d]) => {
      fast.push(text(d as Delivery));
    });
    bus.consume(names.stuck as string, async ([d]) => {
      await stuckUntil;
      stuck.push(text(d as Delivery));
    });
    bus.consume(names.failing as string, async () => {
      throw new Error('always');
    });
    const sent = Array.from({ length: 20 }, (_, i) => String(i));
    for (const n of sent) await bus.publish('link.clicked', bytes(n));
    await within(5_000, () => fast.length === 20);
    expect(fast).toEqual(sent);
    expect(stuck).toEqual([]);
    unstick();
    await within(5_000, () => stuck.length === 20);
    expect(stuck).toEqual(sent);
    await within(5_000, async () => (await bus.deadLetters(names.failing as string)).length === 20);
  });

  test('when a handler throws, then the message comes back with backoff, marked as a redelivery, until it succeeds', async () => {
    const { bus, names } = await busFor({ flaky: ['link.clicked'] });
    const tries: { attempt: number; redelivered: boolean; at: number }[] = [];
    bus.consume(names.flaky as string, async ([d]) => {
      const delivery = d as Delivery;
      tries.push({ attempt: delivery.attempt, redelivered: delivery.redelivered, at: Date.now() });
      if (delivery.attempt < 3) throw new Error('database away');
    });
    await bus.publish('link.clicked', bytes('once'));
    await within(5_000, () => tries.length === 3);
    await sleep(400);
    expect(tries.map(({ attempt, redelivered }) => ({ attempt, redelivered }))).toEqual([
      { attempt: 1, redelivered: false },
      { attempt: 2, redelivered: true },
      { attempt: 3, redelivered: true },
    ]);
    const [first, second, third] = tries.map((t) => t.at) as [number, number, number];
    expect(second - first).toBeGreaterThanOrEqual(90);
    expect(third - second).toBeGreaterThanOrEqual(190);
    expect(await bus.deadLetters(names.flaky as string)).toEqual([]);
  });

  test('a delivery says when its message was published, to the second, and keeps it across retries', async () => {
    const { bus, names } = await busFor({ aged: ['link.clicked'] });
    const seen: (number | undefined)[] = [];
    bus.consume(names.aged as string, async ([d]) => {
      const delivery = d as Delivery;
      seen.push(delivery.publishedAt);
      if (delivery.attempt < 2) throw new Error('not yet');
    });
    const before = Date.now();
    await bus.publish('link.clicked', bytes('dated'));
    const after = Date.now();
    await within(5_000, () => seen.length === 2);
    const [first, retried] = seen as [number, number];
    expect(first).toBeGreaterThanOrEqual(Math.floor(before / 1_000) * 1_000);
    expect(first).toBeLessThanOrEqual(after);
    expect(retried).toBe(first);
  });

  test('when a handler keeps throwing on one message, then it is parked after the last attempt and the others flow', async () => {
    const { bus, names } = await busFor({ recorder: ['link.clicked'] });
    const handled: string[] = [];
    let poisonTries = 0;
    bus.consume(names.recorder as string, async ([d]) => {
      const body = text(d as Delivery);
      if (body === 'poison') {
        poisonTries++;
        throw new Error('cannot decode');
      }
      handled.push(body);
    });
    for (const body of ['a', 'poison', 'b', 'c']) await bus.publish('link.clicked', bytes(body));
    await within(5_000, () => handled.length === 3);
    expect(handled).toEqual(['a', 'b', 'c']);
    await within(5_000, async () => (await bus.deadLetters(names.recorder as string)).length === 1);
    const [parked] = await bus.deadLetters(names.recorder as string);
    expect(parked && { ...parked, body: new TextDecoder().decode(parked.body) }).toEqual({
      body: 'poison',
      routingKey: 'link.clicked',
      attempts: 3,
      error: 'cannot decode',
    });
    await sleep(500);
    expect(poisonTries).toBe(3);
    // Looking at dead letters leaves them parked.
    expect(await bus.deadLetters(names.recorder as string)).toHaveLength(1);
  });

  test('when a consumer takes batches, then one call gets many deliveries and a failure retries them all', async () => {
    const { bus, names } = await busFor({ batches: ['link.clicked'] });
    const calls: string[][] = [];
    let failedOnce = false;
    bus.consume(
      names.batches as string,
      async (batch) => {
        calls.push(batch.map(text));
        if (!failedOnce) {
          failedOnce = true;
          throw new Error('write failed');
        }
      },
      { batchSize: 5, batchWaitMs: 50 },
    );
    const sent = Array.from({ length: 10 }, (_, i) => String(i));
    await Promise.all(sent.map((n) => bus.publish('link.clicked', bytes(n))));
    await within(5_000, () => calls.flat().length === 15);
    await sleep(300);
    expect(Math.max(...calls.map((c) => c.length))).toBe(5);
    const [failed, ...rest] = calls;
    expect(failed).toHaveLength(5);
    // Every message handled at least once after the failure: the failed batch came back.
    expect(new Set(rest.flat())).toEqual(new Set(sent));
  });

  test('when messages wait for a consumer, then its depth counts them, and drops as it takes them', async () => {
    const { bus, names } = await busFor({ behind: ['link.clicked'], other: ['link.expired'] });
    const behind = names.behind as string;
    for (const i of [1, 2, 3]) await bus.publish('link.clicked', bytes(String(i)));
    await within(5_000, async () => (await bus.depth(behind)) === 3);
    expect(await bus.depth(names.other as string)).toBe(0);
    const heard: string[] = [];
    bus.consume(behind, async (batch) => {
      for (const d of batch) heard.push(text(d));
    });
    await within(5_000, () => heard.length === 3);
    await within(5_000, async () => (await bus.depth(behind)) === 0);
  });

  test('when a subscription stops mid-handler, then the handler finishes, and what it had not taken goes to the next one', async () => {
    const { bus, names } = await busFor({ drained: ['link.clicked'] });
    const finished: string[] = [];
    let started!: () => void;
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    const first = bus.consume(names.drained as string, async ([d]) => {
      started();
      await sleep(300);
      finished.push(text(d as Delivery));
    });
    const sent = ['1', '2', '3', '4'];
    for (const n of sent) await bus.publish('link.clicked', bytes(n));
    await running;
    await first.stop();
    expect(finished).toEqual(['1']);
    const later: Delivery[] = [];
    bus.consume(names.drained as string, async ([d]) => {
      later.push(d as Delivery);
    });
    await within(5_000, () => later.length === 3);
    await sleep(200);
    // Each exactly once; their order is not promised (quorum queues put what
    // is handed back at the tail, classic ones where it was).
    expect(later.map(text).sort()).toEqual(['2', '3', '4']);
  });
});

describe('bus settings', () => {
  test('when nothing is set, then the bus is in process, with five attempts from 1 s to 60 s apart, and consumers yield for up to 30 s', () => {
    const { bus } = loadConfig({ bus: busSettings }, {});
    expect(bus).toEqual({
      rabbitmqUrl: '',
      exchange: 'shortener.events',
      queuePrefix: '',
      queueType: 'classic',
      publishTimeoutMs: 5_000,
      retry: { maxAttempts: 5, backoff: { initialMs: 1_000, maxMs: 60_000 } },
      yieldMaxLagMs: 30_000,
    });
  });

  test('BUS_YIELD_MAX_LAG 0 turns yielding off, and NODE_NAME names the node (the host name unless set)', () => {
    const off = loadConfig({ bus: busSettings }, { BUS_YIELD_MAX_LAG: '0', NODE_NAME: 'node-7' });
    expect(off.bus.yieldMaxLagMs).toBe(0);
    expect(off.nodeName).toBe('node-7');
    expect(loadConfig({ bus: busSettings }, {}).nodeName).toBe(hostname());
    expect(() => loadConfig({ bus: busSettings }, { NODE_NAME: 'two words' })).toThrow(/NODE_NAME/);
  });

  test('when a setting is malformed, then loading stops and names the variable', () => {
    expect(() => loadConfig({ bus: busSettings }, { RABBITMQ_URL: 'redis://127.0.0.1' })).toThrow(
      /RABBITMQ_URL/,
    );
    expect(() => loadConfig({ bus: busSettings }, { BUS_RETRY_ATTEMPTS: '0' })).toThrow(
      /BUS_RETRY_ATTEMPTS/,
    );
  });
});

describe('deploy/rabbitmq/definitions.json', () => {
  test('is the topology the bus declares, with the default settings', () => {
    const { bus } = loadConfig({ bus: busSettings }, {});
    const expected = definitionsOf(systemTopology(DEFAULT_EXCHANGE, bus.retry));
    const committed = JSON.parse(
      readFileSync(join(REPO_ROOT, 'deploy/rabbitmq/definitions.json'), 'utf8'),
    );
    expect(committed, 'run `npx node scripts/rabbitmq-definitions.ts`').toEqual(expected);
    expect(expected.queues.map((q) => q.name)).toContain('analytics.visit-recorder.dead');
  });
});

/** A bus message of ten clicks, event ids `<first>` to `<first + 9>`. */
function tenClicks(first: number): Uint8Array {
  const clicks = Array.from({ length: 10 }, (_, i) => ({
    eventId: String(first + i),
    linkId: '7',
    code: 'aB3xY9z',
    ownerId: '42',
    clickedAt: new Date(),
    client: {
      ip: '203.0.113.9',
      userAgent: 'test',
      referer: '',
      acceptLanguage: 'en',
      traceparent: '',
      tracestate: '',
    },
  }));
  return LinkClickedBatch.encode({ clicks }).finish();
}

const range = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => String(from + i));

describe('bus on RabbitMQ when the broker fails it', () => {
  test('when the broker stops and starts again, then no click is lost, publishing waits within its bound, and consumers resume', async () => {
    const broker = await OwnRabbitMq.start();
    let bus: RabbitMqBus | undefined;
    try {
      const { topology, names } = testTopology({ visits: ['link.clicked'] });
      bus = new RabbitMqBus({
        url: broker.url,
        topology,
        log: testLog,
        publishTimeoutMs: 1_000,
        reconnectDelayMs: 200,
      });
      expect(await bus.ready(10_000)).toBe(true);
      // The consumer dedupes by event id, as the real ones do.
      const seen = new Set<string>();
      let clicksDelivered = 0;
      // Slow enough that the broker stops before all 20 are taken, even on a busy machine.
      bus.consume(names.visits as string, async ([d]) => {
        await sleep(400);
        for (const click of LinkClickedBatch.decode((d as Delivery).body).clicks) {
          seen.add(click.eventId);
          clicksDelivered++;
        }
      });
      for (let batch = 0; batch < 20; batch++)
        await bus.publish('link.clicked', tenClicks(batch * 10));
      await broker.stop();
      const seenBeforeRestart = seen.size;
      expect(seenBeforeRestart).toBeLessThan(200);

      const refusedAt = Date.now();
      await expect(
        bus.publish('link.clicked', tenClicks(9_000), { timeoutMs: 500 }),
      ).rejects.toThrow();
      expect(Date.now() - refusedAt).toBeLessThan(2_000);
      const waiting = bus.publish('link.clicked', tenClicks(200), { timeoutMs: 60_000 });
      waiting.catch(() => {}); // awaited below, once the broker is back

      await broker.start();
      await waiting;
      for (let batch = 21; batch < 31; batch++)
        await bus.publish('link.clicked', tenClicks(batch * 10));
      await within(60_000, () => seen.size >= 310);
      await sleep(300);
      const expected = new Set(range(0, 310));
      expect([...seen].filter((id) => !expected.has(id))).toEqual([]);
      expect(seen.size).toBe(310);
      // Redelivered at most what was unacknowledged when the broker stopped: its prefetch of two batches.
      expect(clicksDelivered - seen.size).toBeLessThanOrEqual(20);
    } finally {
      await bus?.close();
      await broker.remove();
    }
  }, 120_000);

  test("when an operator deletes a consumer's queue, then the consumer declares it again and goes on", async () => {
    const { topology, names } = testTopology({ visits: ['link.clicked'] });
    const bus = new RabbitMqBus({
      url: RABBITMQ_URL,
      topology,
      log: testLog,
      publishTimeoutMs: 5_000,
    });
    try {
      expect(await bus.ready(10_000)).toBe(true);
      const heard: string[] = [];
      bus.consume(names.visits as string, async ([d]) => {
        heard.push(text(d as Delivery));
      });
      await bus.publish('link.clicked', bytes('before'));
      await within(5_000, () => heard.length === 1);
      const operator = await connect(RABBITMQ_URL);
      await (await operator.createChannel()).deleteQueue(names.visits as string);
      await operator.close();
      // The broker cancels the consumer; its channel comes back within about a second.
      await within(10_000, async () => {
        await bus.publish('link.clicked', bytes('after'));
        await sleep(200);
        return heard.includes('after');
      });
      expect(heard[0]).toBe('before');
    } finally {
      await bus.close();
      await removeTopology(topology);
    }
  });
});
