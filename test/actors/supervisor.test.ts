import { afterEach, describe, expect, test } from 'vitest';
import { MailboxClosedError } from '../../lib/actors/mailbox.ts';
import { Supervisor } from '../../lib/actors/supervisor.ts';
import type { Delivery } from '../../lib/bus/bus.ts';
import { MemoryBus } from '../../lib/bus/memory-bus.ts';
import { TEST_RETRY, testTopology } from '../support/bus.ts';
import { testLog } from '../support/logger.ts';
import { sleep, within } from '../support/wait.ts';

/** A promise and the function that settles it, for holding an actor mid-message. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

describe('actor runtime', () => {
  const supervisors: Supervisor[] = [];
  const supervisor = (restartMs = 100) => {
    const created = new Supervisor({
      log: testLog,
      restart: { initialMs: restartMs, maxMs: restartMs },
    });
    supervisors.push(created);
    return created;
  };

  afterEach(async () => {
    for (const s of supervisors.splice(0)) await s.stop();
  });

  test('when many messages arrive at once, then the actor handles them one at a time, in order', async () => {
    let active = 0;
    let mostAtOnce = 0;
    const handled: number[] = [];
    const counter = supervisor().spawn<number>('counter', () => ({
      async receive(n) {
        active++;
        mostAtOnce = Math.max(mostAtOnce, active);
        await sleep(2);
        handled.push(n);
        active--;
      },
    }));
    const sent = Array.from({ length: 30 }, (_, i) => i);
    await Promise.all(sent.map((n) => counter.ask(n)));
    expect(handled).toEqual(sent);
    expect(mostAtOnce).toBe(1);
  });

  test('when an actor throws, then it is restarted with fresh state after a backoff, and its neighbours go on', async () => {
    const runtime = supervisor(150);
    const seenBy: { instance: number; message: string; at: number }[] = [];
    let instances = 0;
    const fragile = runtime.spawn<string>('fragile', () => {
      const instance = ++instances;
      return {
        receive(message) {
          seenBy.push({ instance, message, at: Date.now() });
          if (message === 'boom') throw new Error('boom');
        },
      };
    });
    const neighbour: number[] = [];
    const steady = runtime.spawn<number>('steady', () => ({
      receive: (n) => void neighbour.push(n),
    }));

    await fragile.ask('first');
    await expect(fragile.ask('boom')).rejects.toThrow('boom');
    const afterRestart = fragile.ask('after');
    for (let n = 0; n < 5; n++) await steady.ask(n);
    // Handled while fragile waits out its backoff.
    expect(neighbour).toEqual([0, 1, 2, 3, 4]);
    expect(seenBy).toHaveLength(2);
    await afterRestart;

    expect(seenBy.map(({ instance, message }) => ({ instance, message }))).toEqual([
      { instance: 1, message: 'first' },
      { instance: 1, message: 'boom' },
      { instance: 2, message: 'after' },
    ]);
    const [, boom, after] = seenBy;
    expect((after?.at ?? 0) - (boom?.at ?? 0)).toBeGreaterThanOrEqual(140);
    expect(fragile.restarts).toBe(1);
    expect(steady.restarts).toBe(0);
  });

  test('when an actor is stopped, then it first handles everything in its mailbox, and takes nothing after', async () => {
    const handled: number[] = [];
    let stoppedAfter = -1;
    const slow = supervisor().spawn<number>('slow', () => ({
      async receive(n) {
        await sleep(10);
        handled.push(n);
      },
      stopped() {
        stoppedAfter = handled.length;
      },
    }));
    for (let n = 0; n < 10; n++) await slow.tell(n);
    await slow.stop();
    expect(handled).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(stoppedAfter).toBe(10);
    await expect(slow.tell(10)).rejects.toBeInstanceOf(MailboxClosedError);
  });

  test('when the mailbox is full, then senders wait for room instead of it growing', async () => {
    const hold = gate();
    const handled: number[] = [];
    const busy = supervisor().spawn<number>(
      'busy',
      () => ({
        async receive(n) {
          await hold.opened;
          handled.push(n);
        },
      }),
      { mailbox: 2 },
    );
    await busy.tell(1); // taken at once, held at the gate
    await sleep(10);
    await busy.tell(2);
    await busy.tell(3); // the mailbox is full now
    let fourthIn = false;
    const fourth = busy.tell(4).then(() => {
      fourthIn = true;
    });
    expect(busy.offer(5)).toBe(false);
    await sleep(50);
    expect(fourthIn).toBe(false);
    hold.open();
    await fourth;
    await within(1_000, () => handled.length === 4);
    expect(handled).toEqual([1, 2, 3, 4]);
  });

  test('when a timer feeds an actor, then ticks arrive on time and are skipped, not piled up, while it is behind', async () => {
    const runtime = supervisor();
    const ticks: number[] = [];
    const quick = runtime.spawn<'tick'>('quick', () => ({
      receive: () => void ticks.push(Date.now()),
    }));
    runtime.every(quick, 40, () => 'tick');
    let slowTicks = 0;
    const slow = runtime.spawn<'flush'>(
      'slow',
      () => ({
        async receive() {
          slowTicks++;
          await sleep(150);
        },
      }),
      { mailbox: 1 },
    );
    runtime.every(slow, 10, () => 'flush');
    await sleep(450);
    await runtime.stop();
    expect(ticks.length).toBeGreaterThanOrEqual(5);
    expect(ticks.length).toBeLessThanOrEqual(12);
    // About 450 / 150 flushes plus the one waiting in its mailbox, not 45.
    expect(slowTicks).toBeGreaterThanOrEqual(2);
    expect(slowTicks).toBeLessThanOrEqual(5);
    const ticked = ticks.length;
    await sleep(100);
    expect(ticks.length).toBe(ticked);
  });

  test('when a timer is given a first delay, then the first tick comes after it and the next ones at the interval', async () => {
    const runtime = supervisor();
    const started = Date.now();
    const ticks: number[] = [];
    const late = runtime.spawn<'tick'>('late', () => ({
      receive: () => void ticks.push(Date.now() - started),
    }));
    runtime.every(late, 200, () => 'tick', 30);
    await sleep(120);
    expect(ticks).toHaveLength(1);
    expect(ticks[0]).toBeGreaterThanOrEqual(25);
    await sleep(200);
    expect(ticks).toHaveLength(2);
    expect((ticks[1] as number) - (ticks[0] as number)).toBeGreaterThanOrEqual(190);
    await runtime.stop();
    await sleep(250);
    expect(ticks).toHaveLength(2);
  });

  test('when a timer is stopped before its first delay is over, then it never ticks', async () => {
    const runtime = supervisor();
    let ticks = 0;
    const never = runtime.spawn<'tick'>('never', () => ({ receive: () => void ticks++ }));
    runtime.every(never, 20, () => 'tick', 50);
    await runtime.stop();
    await sleep(100);
    expect(ticks).toBe(0);
  });

  test('when a bus consumer feeds an actor and it throws, then the bus retries the delivery', async () => {
    const { topology, names } = testTopology({ recorder: ['link.clicked'] }, TEST_RETRY);
    const bus = new MemoryBus(topology, testLog);
    const recorded: string[] = [];
    let failOnce = true;
    const recorder = supervisor(10).spawn<readonly Delivery[]>('recorder', () => ({
      receive(batch) {
        if (failOnce) {
          failOnce = false;
          throw new Error('database away');
        }
        for (const d of batch) recorded.push(`${new TextDecoder().decode(d.body)}@${d.attempt}`);
      },
    }));
    bus.consume(names.recorder as string, (batch) => recorder.ask(batch));
    await bus.publish('link.clicked', new TextEncoder().encode('click'));
    await within(2_000, () => recorded.length === 1);
    expect(recorded).toEqual(['click@2']);
    expect(recorder.restarts).toBe(1);
    await bus.close();
  });
});
