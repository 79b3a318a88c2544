// Issue 14: "Gateway stopped (SIGTERM) with clicks still buffered → all of
// them published." The gateway flushes its clicks only once a minute here,
// so every click of the redirects is still in its buffer when it is told to
// stop; stopping publishes them, and the analytics service stores them all.
// In process (gateway.stop(), both flavours), and as a gateway process of
// its own sent SIGTERM, on the machine's RabbitMQ, MariaDB and Redis.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { dialable } from '../../lib/config/parsers.ts';
import { clickedLinks, perCode, redirects, visitCounter } from '../support/clicks.ts';
import { MESH_FLAVOURS, meshForSuite } from '../support/mesh.ts';
import { freePort } from '../support/ports.ts';
import { startNode } from '../support/processes.ts';
import { sleep, within } from '../support/wait.ts';

const CLICKS = 600;
const HOLD_CLICKS = { CLICKS_FLUSH_INTERVAL: '60s', CLICKS_BATCH_SIZE: '10000' };

describe.each(MESH_FLAVOURS)('the gateway stopping with clicks buffered (%s)', (flavour) => {
  const mesh = meshForSuite(flavour, HOLD_CLICKS);
  let counter: ReturnType<typeof visitCounter>;
  let codes: string[];

  beforeAll(async () => {
    const links = await clickedLinks(mesh.url);
    codes = links.codes;
    counter = visitCounter(mesh.mesh.analytics.address, links.guest);
  });
  afterAll(() => counter?.close());

  test(`when the gateway stops with ${CLICKS} clicks still buffered, then all of them are published and stored`, async () => {
    expect(await redirects(mesh.url, codes, CLICKS)).toEqual(Array(CLICKS).fill(302));
    await sleep(500);
    // Still in the gateway's buffer.
    expect(await counter.totals(codes)).toEqual([0, 0, 0]);
    await mesh.mesh.gateway.stop();
    const expected = perCode(codes, CLICKS);
    expect(await counter.settle(codes, expected, 20_000)).toEqual(expected);
  });
});

describe('a gateway process sent SIGTERM with clicks buffered', () => {
  const mesh = meshForSuite('mysql+redis');

  test(`when a gateway process gets SIGTERM with ${CLICKS} clicks buffered, then it publishes them all and exits 0`, async () => {
    const { guest, codes } = await clickedLinks(mesh.url);
    const counter = visitCounter(mesh.mesh.analytics.address, guest);
    const port = await freePort();
    const { config } = mesh;
    const gateway = startNode(['--import', './lib/telemetry/preload.ts', 'gateway/main.ts'], {
      ...process.env,
      ...HOLD_CLICKS,
      LOG_LEVEL: 'info',
      GATEWAY_LISTEN: `127.0.0.1:${port}`,
      GATEWAY_METRICS_LISTEN: '127.0.0.1:0',
      LINK_GRPC_TARGET: dialable(mesh.mesh.link.address),
      IDENTITY_GRPC_TARGET: dialable(mesh.mesh.identity.address),
      REDIS_URL: config.redisUrl,
      REDIS_KEY_PREFIX: config.redisKeyPrefix,
      RABBITMQ_URL: config.bus.rabbitmqUrl,
      BUS_EXCHANGE: config.bus.exchange,
      BUS_QUEUE_PREFIX: config.bus.queuePrefix,
      SHUTDOWN_TIMEOUT: '10s',
    });
    const url = `http://127.0.0.1:${port}`;
    try {
      await within(15_000, () =>
        fetch(`${url}/readyz`).then(
          (r) => r.status === 200,
          () => false,
        ),
      ).catch(() => {
        throw new Error(`gateway did not become ready:\n${gateway.stdout()}${gateway.stderr()}`);
      });
      expect(await redirects(url, codes, CLICKS)).toEqual(Array(CLICKS).fill(302));
      await sleep(500);
      expect(await counter.totals(codes)).toEqual([0, 0, 0]);

      gateway.child.kill('SIGTERM');
      const { code } = await gateway.exited;
      expect(code, gateway.stdout()).toBe(0);
      expect(gateway.stdout()).not.toMatch(/clicks not published before stopping/);
      const expected = perCode(codes, CLICKS);
      expect(await counter.settle(codes, expected, 20_000)).toEqual(expected);
    } finally {
      if (gateway.child.exitCode === null) gateway.child.kill('SIGKILL');
      counter.close();
    }
  }, 60_000);
});
