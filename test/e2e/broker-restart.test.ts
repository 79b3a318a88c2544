// Issue 14: "RabbitMQ stopped and started in the middle of 5,000 redirects:
// every redirect answered, all 5,000 visits arrive, none twice." The mesh
// runs on MariaDB, Redis and a RabbitMQ node of the test's own (its own node
// name, ports and data directory: the machine's broker is undisturbed). The
// broker is stopped after the first 1,500 redirects and started again while
// the last 1,500 are sent; the gateway keeps the clicks it cannot publish
// meanwhile and sends them once the broker is back.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { clickedLinks, perCode, redirects, visitCounter } from '../support/clicks.ts';
import { startTestMesh, type TestMesh } from '../support/mesh.ts';
import { OwnRabbitMq } from '../support/rabbitmq-server.ts';
import { sleep, within } from '../support/wait.ts';

const BEFORE = 1_500;
const DURING = 2_000;
const AFTER = 1_500;
const CLICKS = BEFORE + DURING + AFTER;
let broker: OwnRabbitMq | undefined;
let mesh: TestMesh | undefined;

beforeAll(async () => {
  broker = await OwnRabbitMq.start();
  mesh = await startTestMesh('mysql+redis', {
    RABBITMQ_URL: broker.url,
    BUS_PUBLISH_TIMEOUT: '1s',
  });
}, 90_000);
afterAll(async () => {
  await mesh?.stop();
  await broker?.remove();
});

test(`when the broker stops and starts again during ${CLICKS} redirects, then every one answers 302 and ${CLICKS} visits are stored and ranked, none twice`, async () => {
  const running = mesh as TestMesh;
  const own = broker as OwnRabbitMq;
  const { guest, codes } = await clickedLinks(running.url);
  const counter = visitCounter(running.mesh.analytics.address, guest);
  try {
    const before = await redirects(running.url, codes, BEFORE);
    await own.stop();
    const downAt = performance.now();
    const during = await redirects(running.url, codes, DURING);
    const downFor = performance.now() - downAt;
    // Back while redirects go on.
    const restarting = own.start();
    restarting.catch(() => {});
    const after = await redirects(running.url, codes, AFTER);
    await restarting;

    expect([...before, ...during, ...after]).toEqual(Array(CLICKS).fill(302));
    // The broker being away did not hold redirects up: 2,000 answered well within a second each.
    expect(downFor / DURING).toBeLessThan(50);
    const expected = perCode(codes, CLICKS);
    expect(await counter.settle(codes, expected, 45_000)).toEqual(expected);
    // The live ranking counted each click once too (its cache lives a second).
    await within(10_000, async () => (await counter.ranked()) === CLICKS);
    await sleep(1_500);
    expect(await counter.ranked()).toBe(CLICKS);
  } finally {
    counter.close();
  }
}, 120_000);
