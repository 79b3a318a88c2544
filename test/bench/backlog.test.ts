// The bench counts what the pipeline had not stored when it stopped waiting
// off the broker itself, click by click: the visit recorder's queue and
// retry queues as still queued, its dead-letter queue as parked.
import { connect } from 'amqplib';
import { createConnection } from 'mysql2/promise';
import { afterAll, expect, test } from 'vitest';
import { recorderBacklog, waitForStored } from '../../bench/backlog.ts';
import { clickMaker } from '../../bench/clicks.ts';
import { encodeClicks, publishClicksOn } from '../../gateway/clicks/publish.ts';
import { CONSUMERS } from '../../lib/bus/catalog.ts';
import { busSettings } from '../../lib/bus/config.ts';
import { openBus, topologyOf } from '../../lib/bus/open.ts';
import { deadQueue } from '../../lib/bus/topology.ts';
import { loadConfig } from '../../lib/config/load.ts';
import { removeTopology } from '../support/bus.ts';
import { dropDatabases } from '../support/databases.ts';
import { MYSQL_URL, RABBITMQ_URL, uniqueName } from '../support/env.ts';
import { testLog } from '../support/logger.ts';

const name = uniqueName('backlog');
const config = loadConfig(
  { bus: busSettings },
  { RABBITMQ_URL, BUS_EXCHANGE: `${name}.events`, BUS_QUEUE_PREFIX: `${name}.` },
).bus;
const bus = openBus(config, testLog);

afterAll(async () => {
  await bus.close();
  await removeTopology(topologyOf(config));
  await dropDatabases([name]);
});

test('when batches wait for the visit recorder and one is parked, then the backlog counts their clicks, each queue as what it is, and takes them', async () => {
  const maker = clickMaker({ seed: 1, visitors: 10 });
  const link = { id: '118000000000000001', code: 'aB3xY9z', ownerId: '118000000000000000' };
  const clicks = (n: number) => Array.from({ length: n }, () => maker.click(link, Date.now()));
  const publish = publishClicksOn(bus);
  for (const size of [500, 500, 120]) await publish(clicks(size));

  const connection = await connect(RABBITMQ_URL);
  try {
    const channel = await connection.createConfirmChannel();
    const dead = deadQueue(config.queuePrefix + CONSUMERS.visitRecorder.name);
    channel.sendToQueue(dead, Buffer.from(encodeClicks(clicks(7))), { persistent: true });
    await channel.waitForConfirms();
  } finally {
    await connection.close();
  }

  expect(await recorderBacklog(config, RABBITMQ_URL)).toEqual({
    queuedClicks: 1_120,
    deadLetters: 7,
  });
  // Counted once: the messages were taken.
  expect(await recorderBacklog(config, RABBITMQ_URL)).toEqual({ queuedClicks: 0, deadLetters: 0 });
});

test('when visits are stored while the bench waits, then the wait ends once they all are, and says how long it took; short of them, it gives up', async () => {
  const db = await createConnection({ uri: MYSQL_URL });
  try {
    await db.query(`CREATE DATABASE \`${name}\``);
    await db.query(`CREATE TABLE \`${name}\`.visits (id BIGINT PRIMARY KEY)`);
    const wait = (expected: number, waitMs: number) =>
      waitForStored({
        databaseUrl: `${MYSQL_URL}/${name}`,
        bus: config,
        rabbitmqUrl: RABBITMQ_URL,
        expected,
        waitMs,
      });
    const waiting = wait(3, 5_000);
    await new Promise((resolve) => setTimeout(resolve, 400));
    await db.query(`INSERT INTO \`${name}\`.visits (id) VALUES (1), (2), (3)`);
    const done = await waiting;
    expect(done.stored).toBe(3);
    expect(done.seconds).toBeGreaterThanOrEqual(0.4);
    expect(done.seconds).toBeLessThan(2);
    const short = await wait(4, 500);
    expect(short.stored).toBe(3);
    expect(short.seconds).toBeNaN();
  } finally {
    await db.end();
  }
});
