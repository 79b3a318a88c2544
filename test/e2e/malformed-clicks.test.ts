// Issue 14: "A malformed message → dead-lettered after bounded retries; the
// rest flow." Messages on `link.clicked` that are no LinkClickedBatch are
// published among the gateway's batches: each is tried the bus's three times,
// then parked in each analytics consumer's dead-letter queue, alone, while
// every real click is stored once — on RabbitMQ with MariaDB and Redis, and
// on the embedded default.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CONSUMERS, EVENTS } from '../../lib/bus/catalog.ts';
import { clickedLinks, perCode, redirects, visitCounter } from '../support/clicks.ts';
import { MESH_FLAVOURS, meshForSuite } from '../support/mesh.ts';
import { sleep, within } from '../support/wait.ts';

const CLICKS = 1_000;
const POISON = 4;
/** Field 1 with wire type 7, which does not exist: no protobuf decoder takes it. */
const poison = (n: number) => new Uint8Array([0x0f, n, 0xff, 0xff]);

describe.each(MESH_FLAVOURS)('malformed click messages (%s)', (flavour) => {
  const mesh = meshForSuite(flavour, {
    // Small batches, so the poison lands among real ones on the consumers' side.
    CLICKS_BATCH_SIZE: '50',
    BUS_RETRY_ATTEMPTS: '3',
    BUS_RETRY_DELAY: '100ms',
    BUS_RETRY_MAX_DELAY: '200ms',
  });
  let counter: ReturnType<typeof visitCounter>;
  let codes: string[];

  beforeAll(async () => {
    const links = await clickedLinks(mesh.url);
    codes = links.codes;
    counter = visitCounter(mesh.mesh.analytics.address, links.guest);
  });
  afterAll(() => counter?.close());

  test(`when ${POISON} malformed messages go out among ${CLICKS} clicks, then each is parked after three attempts and all ${CLICKS} visits are stored`, async () => {
    let poisoned = 0;
    const statuses = await redirects(mesh.url, codes, CLICKS, 50, async (sent) => {
      if (sent % 250 === 100 && poisoned < POISON) {
        await mesh.mesh.bus.publish(EVENTS.linkClicked, poison(poisoned++));
      }
    });
    expect(statuses).toEqual(Array(CLICKS).fill(302));
    expect(poisoned).toBe(POISON);
    const expected = perCode(codes, CLICKS);
    expect(await counter.settle(codes, expected, 30_000)).toEqual(expected);

    for (const consumer of [CONSUMERS.visitRecorder.name, CONSUMERS.rankingCounter.name]) {
      await within(
        10_000,
        async () => (await mesh.mesh.bus.deadLetters(consumer)).length >= POISON,
      );
      await sleep(300);
      const parked = await mesh.mesh.bus.deadLetters(consumer);
      // Only the poison: no real batch was parked with it.
      expect(parked.map((letter) => [...letter.body]).sort()).toEqual(
        Array.from({ length: POISON }, (_, n) => [...poison(n)]).sort(),
      );
      for (const letter of parked) {
        expect(letter).toMatchObject({ routingKey: EVENTS.linkClicked, attempts: 3 });
        expect(letter.error).not.toBe('');
      }
    }
  }, 60_000);
});
