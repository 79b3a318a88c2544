// Issue 14: "A consumer that throws → restarted, the others unaffected", and
// the other half of "every click message delivered twice": a consumer that
// fails after its write, so the bus redelivers what it had already stored.
// The analytics workers (consumeClicks) run on the bus of each flavour
// (RabbitMQ, in process), the visit recorder on a database of its own
// (MariaDB, SQLite); the second consumer on the same events stands for the
// ranking counter and only notes what it was handed.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, test } from 'vitest';
import type { Click as GatewayClick } from '../../gateway/clicks/click-buffer.ts';
import { encodeClicks } from '../../gateway/clicks/publish.ts';
import { Supervisor } from '../../lib/actors/supervisor.ts';
import { MemoryBroadcast } from '../../lib/broadcast/memory-broadcast.ts';
import type { Bus } from '../../lib/bus/bus.ts';
import type { CONSUMERS } from '../../lib/bus/catalog.ts';
import type { RetryPolicy, Topology } from '../../lib/bus/topology.ts';
import { announceWhileBusy, YieldGate } from '../../lib/bus/yielding.ts';
import { dialectOf } from '../../lib/db/migrations.ts';
import { Metrics } from '../../lib/metrics/metrics.ts';
import { runtimeErrors } from '../../lib/runtime-errors.ts';
import type { StopStep } from '../../lib/shutdown.ts';
import type { Click } from '../../services/analytics/domain/click.ts';
import { VisitRecorder } from '../../services/analytics/domain/record-visits.ts';
import { analyticsSchema } from '../../services/analytics/store/schema.ts';
import { VisitStore } from '../../services/analytics/store/visit-store.ts';
import { consumeClicks } from '../../services/analytics/workers/click-consumers.ts';
import { BUS_FLAVOURS, removeTopology, TEST_RETRY, testTopology } from '../support/bus.ts';
import { openTestDatabase, type TestDatabase } from '../support/databases.ts';
import { testLog } from '../support/logger.ts';
import { sleep, within } from '../support/wait.ts';

type ConsumerName = (typeof CONSUMERS)[keyof typeof CONSUMERS]['name'];
const BATCHES = 20;
const PER_BATCH = 50;
const CLICKS = BATCHES * PER_BATCH;

/** A batch of clicks as the gateway publishes it, with event ids from `from`. */
function batchOf(from: number): Uint8Array {
  const clicks: GatewayClick[] = Array.from({ length: PER_BATCH }, (_, i) => ({
    eventId: String(1_000_000 + from + i),
    linkId: '424242',
    ownerId: '7',
    code: 'abc1234',
    at: Date.now(),
    client: {
      ip: '192.0.2.7',
      userAgent: 'curl/8.5',
      referer: '',
      acceptLanguage: '',
      traceparent: '',
      tracestate: '',
    },
  }));
  return encodeClicks(clicks);
}

/** A logger whose lines the test reads. */
function capturingLog() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { log: pino({ level: 'warn' }, sink), lines };
}

describe.each(BUS_FLAVOURS)('failing click consumers ($name)', (flavour) => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step().catch(() => {});
  });

  async function workers(retry: RetryPolicy = TEST_RETRY, yieldGate?: YieldGate) {
    const { topology, names } = testTopology(
      { visits: ['link.clicked'], ranking: ['link.clicked'] },
      retry,
    );
    const bus: Bus = await flavour.open(topology);
    cleanup.push(async () => {
      await bus.close();
      if (flavour.name === 'rabbitmq') await removeTopology(topology as Topology);
    });
    const db: TestDatabase = await openTestDatabase(
      flavour.name === 'rabbitmq' ? 'mysql' : 'sqlite',
      analyticsSchema,
      'failing_consumers',
    );
    cleanup.push(() => db.close());
    const { log, lines } = capturingLog();
    const supervisor = new Supervisor({ log, restart: { initialMs: 50, maxMs: 200 } });
    const stops: StopStep[] = [];
    cleanup.push(async () => {
      for (const stop of stops.reverse()) await stop(5_000);
      await supervisor.stop();
    });
    const metrics = new Metrics();
    const context = {
      bus,
      log,
      yieldGate,
      metrics,
      onStop: (_: string, stop: StopStep) => stops.push(stop),
    };
    const recorder = new VisitRecorder(new VisitStore(db.orm, dialectOf(db.url)), {
      prefixes: { ipv4: 24, ipv6: 48 },
    });
    const stored = async () => {
      const sql = 'select count(*) as n from visits';
      const rolled = 'select coalesce(sum(visits), 0) as n from link_days';
      const em = db.orm.em.fork();
      const [[visits], [rollups]] = [
        await em.execute<{ n: unknown }[]>(sql),
        await em.execute<{ n: unknown }[]>(rolled),
      ];
      return { visits: Number(visits?.n), rollups: Number(rollups?.n) };
    };
    return {
      bus,
      lines,
      metrics,
      stop: async () => {
        for (const stop of stops.splice(0).reverse()) await stop(5_000);
      },
      stored,
      start(name: 'visits' | 'ranking', record: (clicks: readonly Click[]) => Promise<unknown>) {
        consumeClicks(names[name] as ConsumerName, record, context, supervisor);
      },
      recorder,
      deadLetters: (name: 'visits' | 'ranking') => bus.deadLetters(names[name] as string),
      publishAll: async () => {
        for (let b = 0; b < BATCHES; b++) await bus.publish('link.clicked', batchOf(b * PER_BATCH));
      },
    };
  }

  test('when the visit recorder fails after its write, then the bus redelivers and every click is stored once', async () => {
    const w = await workers();
    let calls = 0;
    w.start('visits', async (clicks) => {
      await w.recorder.record(clicks);
      // Written, then lost before the acknowledgement: twice.
      if (++calls <= 2) throw new Error('crashed after the write');
    });
    await w.publishAll();
    await within(20_000, async () => (await w.stored()).visits >= CLICKS);
    await sleep(1_000);
    expect(await w.stored()).toEqual({ visits: CLICKS, rollups: CLICKS });
    expect(calls).toBeGreaterThan(2);
    expect(await w.deadLetters('visits')).toEqual([]);
  }, 60_000);

  test('when one consumer throws, then its actor is restarted and the other consumer of the same events is not held up', async () => {
    // Twenty attempts, 100 to 200 ms apart: the broken consumer is fixed well before they run out.
    const w = await workers({ maxAttempts: 20, backoff: { initialMs: 100, maxMs: 200 } });
    const ranked = new Set<string>();
    let failing = true;
    w.start('ranking', async (clicks) => {
      for (const click of clicks) ranked.add(click.eventId);
    });
    w.start('visits', async (clicks) => {
      if (failing) throw new Error('visit recorder broken');
      await w.recorder.record(clicks);
    });
    await w.publishAll();
    // The other consumer has every click while this one still fails.
    await within(10_000, () => ranked.size === CLICKS);
    expect((await w.stored()).visits).toBe(0);
    await within(5_000, () => w.lines.some((line) => line.msg === 'actor failed; restarting it'));
    failing = false;
    // Fixed within the bus's attempts: every click is stored, once, and nothing was parked.
    await within(20_000, async () => (await w.stored()).visits >= CLICKS);
    await sleep(500);
    expect(await w.stored()).toEqual({ visits: CLICKS, rollups: CLICKS });
    expect(await w.deadLetters('visits')).toEqual([]);
    expect(await w.deadLetters('ranking')).toEqual([]);
    expect(ranked.size).toBe(CLICKS);
  }, 60_000);

  test('while a gateway of the node is busy, the clicks wait in the queue, and are all stored once it is not', async () => {
    const broadcast = new MemoryBroadcast();
    const gate = new YieldGate(broadcast, { node: 'here', maxLagMs: 60_000, holdMs: 300 });
    const load = { utilization: 1 };
    const stopAnnouncing = announceWhileBusy(broadcast, {
      node: 'here',
      threshold: 0.8,
      log: testLog,
      utilization: () => load.utilization,
      sampleMs: 50,
    });
    cleanup.push(stopAnnouncing, () => gate.close());
    await within(5_000, () => gate.busy);
    const w = await workers(TEST_RETRY, gate);
    w.start('visits', (clicks) => w.recorder.record(clicks));
    await w.publishAll();
    await sleep(1_500);
    expect((await w.stored()).visits).toBe(0);
    load.utilization = 0.2;
    await within(20_000, async () => (await w.stored()).visits >= CLICKS);
    await sleep(300);
    expect(await w.stored()).toEqual({ visits: CLICKS, rollups: CLICKS });
    const held = await w.metrics.registry.getSingleMetricAsString(
      'shortener_bus_yield_seconds_total',
    );
    const seconds = Number(/} ([\d.e+-]+)$/m.exec(held)?.[1]);
    expect(seconds).toBeGreaterThanOrEqual(1.5);
    expect(await w.deadLetters('visits')).toEqual([]);
  }, 60_000);

  test('when the store stays unreachable, then nothing is parked, and the consumer still stops promptly', async () => {
    const w = await workers();
    let tries = 0;
    w.start('visits', async () => {
      tries++;
      throw runtimeErrors.database_unavailable({});
    });
    await w.publishAll();
    // Far longer than the bus's three attempts take: the clicks wait, unacknowledged.
    await sleep(1_500);
    expect(tries).toBeGreaterThan(3);
    expect(await w.deadLetters('visits')).toEqual([]);
    const stopping = performance.now();
    await w.stop();
    expect(performance.now() - stopping).toBeLessThan(2_000);
  }, 30_000);
});
