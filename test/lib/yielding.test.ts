// Consumers yield to busy gateways of their node (lib/bus/yielding.ts), over
// each broadcast the mesh runs on.
import { afterEach, describe, expect, test } from 'vitest';
import type { Delivery } from '../../lib/bus/bus.ts';
import {
  announceWhileBusy,
  BUSY_CHANNEL,
  oldestPublish,
  YieldGate,
  yielding,
} from '../../lib/bus/yielding.ts';
import { testLog } from '../support/logger.ts';
import { FLAVOURS, sharedStateForSuite } from '../support/shared-state.ts';
import { sleep, within } from '../support/wait.ts';

const HOLD_MS = 300;
const SAMPLE_MS = 50;

const delivery = (publishedAt: number | undefined): Delivery => ({
  body: new Uint8Array(),
  routingKey: 'link.clicked',
  attempt: 1,
  redelivered: false,
  publishedAt,
});

describe.each(FLAVOURS.filter((f) => f.name !== 'redis cluster'))(
  'consumers yield to busy gateways ($name)',
  (flavour) => {
    const state = sharedStateForSuite(flavour);
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    /** A gate on node `here`, and a gateway on `node` whose event loop is as busy as `load.utilization`. */
    function setUp(options: { node: string; maxLagMs?: number }) {
      const gate = new YieldGate(state.broadcast, {
        node: 'here',
        maxLagMs: options.maxLagMs ?? 60_000,
        holdMs: HOLD_MS,
      });
      const load = { utilization: 1 };
      const stop = announceWhileBusy(state.broadcast, {
        node: options.node,
        threshold: 0.8,
        log: testLog,
        utilization: () => load.utilization,
        sampleMs: SAMPLE_MS,
      });
      cleanups.push(() => gate.close(), stop);
      return { gate, load, stop };
    }

    const never = new AbortController().signal;

    test('while no gateway is busy, work runs at once', async () => {
      const { gate, load } = setUp({ node: 'here' });
      load.utilization = 0.5;
      await sleep(4 * SAMPLE_MS);
      expect(gate.busy).toBe(false);
      expect(await gate.turn(Date.now(), never)).toBe(0);
    });

    test('while a gateway of the node is busy, work waits until it has not said so for the hold', async () => {
      const { gate, load } = setUp({ node: 'here' });
      await within(5_000, () => gate.busy);
      const started = Date.now();
      const turn = gate.turn(Date.now(), never);
      await sleep(2 * HOLD_MS);
      // Still busy: still held.
      expect(gate.busy).toBe(true);
      load.utilization = 0.1;
      const held = await turn;
      expect(held).toBeGreaterThanOrEqual(2 * HOLD_MS + HOLD_MS / 2);
      expect(Date.now() - started).toBeGreaterThanOrEqual(held);
      expect(gate.busy).toBe(false);
    });

    test('a busy gateway of another node holds nothing back', async () => {
      const { gate } = setUp({ node: 'elsewhere' });
      // It is saying so: a listener of the channel hears it.
      const heard: string[] = [];
      const unsubscribe = state.broadcast.subscribe(BUSY_CHANNEL, {
        message: (node) => heard.push(node),
        live: () => {},
      });
      cleanups.push(unsubscribe);
      await within(5_000, () => heard.length >= 2);
      expect(gate.busy).toBe(false);
      expect(await gate.turn(Date.now(), never)).toBe(0);
    });

    test('work waits at most the lag bound from its publish, however long the gateway stays busy', async () => {
      const { gate } = setUp({ node: 'here', maxLagMs: 500 });
      await within(5_000, () => gate.busy);
      // Already older than the bound: runs at once.
      expect(await gate.turn(Date.now() - 600, never)).toBe(0);
      const held = await gate.turn(Date.now(), never);
      expect(held).toBeGreaterThanOrEqual(450);
      expect(held).toBeLessThan(2_000);
      expect(gate.busy).toBe(true);
      // Work of unknown age is never held.
      expect(await gate.turn(undefined, never)).toBe(0);
    });

    test('stopping lets held work run at once', async () => {
      const { gate } = setUp({ node: 'here' });
      await within(5_000, () => gate.busy);
      const stopping = new AbortController();
      const turn = gate.turn(Date.now(), stopping.signal);
      await sleep(100);
      stopping.abort();
      expect(await turn).toBeLessThan(1_000);
      expect(gate.busy).toBe(true);
    });

    test('a yielding handler sees the batch once its oldest message may run, and says how long it was held', async () => {
      const { gate, load } = setUp({ node: 'here', maxLagMs: 60_000 });
      await within(5_000, () => gate.busy);
      const handled: number[] = [];
      const held: number[] = [];
      const handler = yielding(
        gate,
        async (deliveries) => {
          handled.push(deliveries.length);
        },
        never,
        (ms) => held.push(ms),
      );
      const running = handler([delivery(Date.now()), delivery(Date.now() - 10)]);
      await sleep(HOLD_MS);
      expect(handled).toEqual([]);
      load.utilization = 0;
      await running;
      expect(handled).toEqual([2]);
      expect(held).toHaveLength(1);
      expect(held[0]).toBeGreaterThanOrEqual(HOLD_MS);
    });
  },
);

test('the oldest publish of a batch is its earliest, and unknown if any message lacks one', () => {
  expect(oldestPublish([delivery(3_000), delivery(1_000), delivery(2_000)])).toBe(1_000);
  expect(oldestPublish([delivery(3_000), delivery(undefined)])).toBeUndefined();
  expect(oldestPublish([])).toBeUndefined();
});

test('without a gate, the handler is the one given', () => {
  const handler = async () => {};
  expect(yielding(undefined, handler, new AbortController().signal)).toBe(handler);
});
