// Issue 14: "Every click message delivered twice → still 1,000." The bus
// promises at least once, so every LinkClickedBatch the gateway sends is put
// on the bus a second time, and later a third (a replay), as a broker
// redelivering would; the analytics service still stores one visit per
// redirect — on RabbitMQ with MariaDB and Redis, and on the embedded default.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { clickedLinks, perCode, redirects, visitCounter } from '../support/clicks.ts';
import { MESH_FLAVOURS, meshForSuite } from '../support/mesh.ts';
import { sleep, within } from '../support/wait.ts';

const CLICKS = 1_000;

describe.each(MESH_FLAVOURS)('every click message delivered twice (%s)', (flavour) => {
  const mesh = meshForSuite(flavour);
  const sent: { routingKey: string; body: Uint8Array }[] = [];
  let counter: ReturnType<typeof visitCounter>;
  let codes: string[];

  beforeAll(async () => {
    const links = await clickedLinks(mesh.url);
    codes = links.codes;
    counter = visitCounter(mesh.mesh.analytics.address, links.guest);
    // The gateway publishes through the mesh's bus: each batch goes out twice.
    const bus = mesh.mesh.bus;
    const publish = bus.publish.bind(bus);
    bus.publish = async (routingKey, body, options) => {
      await publish(routingKey, body, options);
      sent.push({ routingKey, body: body.slice() });
      await publish(routingKey, body, options);
    };
  });
  afterAll(() => counter?.close());

  test(`when each of ${CLICKS} redirects' batches is delivered twice, and replayed, then exactly ${CLICKS} visits are stored and ranked`, async () => {
    const statuses = await redirects(mesh.url, codes, CLICKS);
    expect(statuses).toEqual(Array(CLICKS).fill(302));
    const expected = perCode(codes, CLICKS);
    expect(await counter.settle(codes, expected, 20_000)).toEqual(expected);
    expect(sent.length).toBeGreaterThan(0);

    // A replay of every batch, long after: still counted once.
    for (const { routingKey, body } of sent.splice(0))
      await mesh.mesh.bus.publish(routingKey, body);
    await sleep(2_000);
    expect(await counter.settle(codes, expected, 10_000)).toEqual(expected);
    // The live ranking counted each click once too (its cache lives a second).
    await within(10_000, async () => (await counter.ranked()) === CLICKS);
    await sleep(1_500);
    expect(await counter.ranked()).toBe(CLICKS);
  }, 60_000);
});
