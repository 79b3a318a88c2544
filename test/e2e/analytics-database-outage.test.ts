// Issue 14: "The analytics database unreachable for 10 s → clicks wait in the
// queue and are stored after, none lost." Only the analytics service reaches
// MariaDB through a relay the test cuts; redirects go on answering, the
// visit recorder cannot write, and a message is acknowledged only after its
// write: so once the database is back every click is stored, once, and none
// was parked as a dead letter however short the bus's retry budget is.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { CONSUMERS } from '../../lib/bus/catalog.ts';
import { clickedLinks, perCode, redirects, visitCounter } from '../support/clicks.ts';
import { dropDatabases } from '../support/databases.ts';
import { MYSQL_URL, uniqueName } from '../support/env.ts';
import { startTestMesh, type TestMesh } from '../support/mesh.ts';
import { TcpRelay } from '../support/tcp-relay.ts';
import { sleep } from '../support/wait.ts';

const CLICKS = 1_000;
const OUTAGE_MS = 10_000;
const target = new URL(MYSQL_URL);
const relay = new TcpRelay(target.hostname, Number(target.port || 3306));
const database = uniqueName('outage_analytics');
let mesh: TestMesh | undefined;

beforeAll(async () => {
  await relay.start();
  const url = new URL(MYSQL_URL);
  url.host = `127.0.0.1:${relay.port}`;
  mesh = await startTestMesh('mysql+redis', {
    ANALYTICS_DATABASE_URL: `${url.href.replace(/\/$/, '')}/${database}`,
    // Three attempts within a second: far less than the outage lasts.
    BUS_RETRY_ATTEMPTS: '3',
    BUS_RETRY_DELAY: '200ms',
    BUS_RETRY_MAX_DELAY: '500ms',
  });
});
afterAll(async () => {
  await relay.start().catch(() => {});
  await mesh?.stop();
  await relay.cut();
  await dropDatabases([database]);
});

test(`when the analytics database is unreachable for ${OUTAGE_MS / 1_000} s, then every redirect answers and all ${CLICKS} visits are stored after, none dead-lettered`, async () => {
  const running = mesh as TestMesh;
  const { guest, codes } = await clickedLinks(running.url);
  const counter = visitCounter(running.mesh.analytics.address, guest);
  try {
    await relay.cut();
    const cutAt = Date.now();
    const statuses = await redirects(running.url, codes, CLICKS);
    expect(statuses).toEqual(Array(CLICKS).fill(302));
    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - cutAt)));
    // Nothing could be stored meanwhile.
    await expect(counter.totals(codes)).rejects.toThrow();
    await relay.start();

    const expected = perCode(codes, CLICKS);
    expect(await counter.settle(codes, expected, 30_000)).toEqual(expected);
    for (const consumer of [CONSUMERS.visitRecorder.name, CONSUMERS.rankingCounter.name]) {
      expect(await running.mesh.bus.deadLetters(consumer)).toEqual([]);
    }
  } finally {
    counter.close();
  }
}, 60_000);
