// The distributed promises on hosts with addresses of their own (network
// namespaces: test/hosts/network.ts), or on loopback where namespaces cannot
// be made, said so plainly. One mesh for every story: two gateways behind
// HAProxy, two link and two analytics instances, identity, the notifier,
// MariaDB, Redis and RabbitMQ, each on its own host. Each story checks the
// answers the users got and what was stored.
import { execFileSync } from 'node:child_process';
import { connect as amqp } from 'amqplib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LinkExpired } from '../../gen/shortener/v1/events.ts';
import { ClientInfo, PrincipalKind } from '../../gen/shortener/v1/principal.ts';
import { EVENTS } from '../../lib/bus/catalog.ts';
import { healthChecker } from '../../lib/grpc/health-client.ts';
import { linkClientForTest } from '../support/grpc.ts';
import { call, newGuest, shorten } from '../support/http.ts';
import { sleep, within } from '../support/wait.ts';
import { CHECK_INTERVAL_MS } from './balancer.ts';
import { type Cluster, startCluster } from './cluster.ts';
import { settledVisits } from './stored.ts';
import { steadyTraffic } from './traffic.ts';

/** The whole suite, however it goes: the network is removed after this at the latest. */
const SUITE_BOUND_MS = 10 * 60_000;
const IDS = 'shortener.v1.LinkService:ids';
const LINK = 'shortener.v1.LinkService';

let cluster: Cluster;
let guard: NodeJS.Timeout | undefined;

beforeAll(async () => {
  cluster = await startCluster((line) => process.stdout.write(`hosts: ${line}\n`));
  guard = setTimeout(() => {
    process.stderr.write('hosts: the suite ran out of time; removing its network\n');
    cluster.network.removeNow();
  }, SUITE_BOUND_MS);
  guard.unref();
}, 240_000);

afterAll(async () => {
  clearTimeout(guard);
  if (!cluster) return;
  const made = [...cluster.network.namespaces];
  await cluster.stop();
  // Torn down: not one of its namespaces is left.
  const left = made.length > 0 ? execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }) : '';
  expect(made.filter((namespace) => left.includes(namespace))).toEqual([]);
}, 60_000);

/** A new guest with `count` links, each made through the balancer (any refusal fails the story). */
async function madeLinks(count: number) {
  const issued = await call(cluster.url, 'POST', '/api/v1/guests');
  expect(issued.status).toBe(201);
  const guest = { id: issued.body.id, kind: PrincipalKind.PRINCIPAL_KIND_GUEST };
  const codes: string[] = [];
  for (let i = 0; i < count; i++) {
    const made = await shorten(cluster.url, issued.body.token, `https://example.com/story/${i}`);
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    codes.push(made.body.code);
  }
  return { guest, codes };
}

/** Nothing any service did by itself: every exit so far was a story's. */
function expectNoUnexpectedExits() {
  expect(cluster.services().flatMap((part) => part.unexpectedExits)).toEqual([]);
}

describe('several hosts', () => {
  test('the network is what the stories need: namespaces, or loopback said plainly', () => {
    if (cluster.network.mode === 'namespaces') {
      // One per host and the bridge.
      expect(cluster.network.namespaces).toHaveLength(13);
    } else {
      expect(cluster.network.fallbackReason).toBeTruthy();
    }
  });

  test('when a link is deleted, then both gateways stop redirecting it within 1 s', async () => {
    const token = await newGuest(cluster.url);
    for (let round = 0; round < 3; round++) {
      const made = await shorten(cluster.url, token, `https://example.com/near/${round}`);
      expect(made.status).toBe(201);
      const code = made.body.code;
      // Warm both near caches.
      for (const gateway of cluster.gateways) {
        for (let i = 0; i < 3; i++)
          expect((await call(gateway.url, 'GET', `/${code}`)).status).toBe(302);
      }
      // Deleted through whichever gateway and link instance the balancer and round robin pick.
      const deleted = await call(cluster.url, 'DELETE', `/api/v1/links/${code}`, { token });
      expect(deleted.status).toBe(204);
      const tookMs = await Promise.all(
        cluster.gateways.map((gateway) =>
          within(1_000, async () => (await call(gateway.url, 'GET', `/${code}`)).status === 404),
        ),
      );
      expect(tookMs.every((ms) => ms <= 1_000)).toBe(true);
    }
  });

  test('when a link instance is cut off from Redis, then it stops issuing ids, resolves from the database and reports it; the other goes on', async () => {
    const { guest, codes } = await madeLinks(1);
    const code = codes[0] as string;
    const [cut, other] = cluster.links;
    if (!cut || !other) throw new Error('two link instances expected');
    const cutHealth = healthChecker(cut.address);
    const otherHealth = healthChecker(other.address);
    const cutLink = linkClientForTest(cut.address, 5_000);
    const otherLink = linkClientForTest(other.address, 5_000);
    const request = {
      caller: guest,
      targetUrl: 'https://example.com/while-cut-off',
      client: ClientInfo.fromPartial({ ip: '192.0.2.1' }),
      alias: '',
    };
    const traffic = steadyTraffic(cluster.url, codes, 2);
    try {
      expect(await cutHealth.status(IDS, 1_000)).toBe('SERVING');
      await cluster.network.cut(cut.process.host, 'redis');
      await within(15_000, async () => (await cutHealth.status(IDS, 1_000)) === 'NOT_SERVING');
      // It still serves: the service is SERVING, only its ids are not.
      expect(await cutHealth.status(LINK, 1_000)).toBe('SERVING');

      // Refused at once, nothing spent: not after waiting out the call's deadline on a Redis it cannot reach.
      const askedAt = performance.now();
      await expect(cutLink.createLink(request)).rejects.toMatchObject({
        kind: 'unavailable',
        code: 'no_worker_lease',
      });
      expect(performance.now() - askedAt).toBeLessThan(500);
      const resolved = await cutLink.resolveLink({ code });
      expect(resolved.targetUrl).toBe('https://example.com/story/0');

      // The other instance issues ids and creates.
      expect(await otherHealth.status(IDS, 1_000)).toBe('SERVING');
      const made = await otherLink.createLink({
        ...request,
        targetUrl: 'https://example.com/made-by-the-other',
      });
      expect(made.link?.code).toMatch(/^[0-9A-Za-z]{7}$/);
      // Users creating through the balancer never see the cut-off instance's refusals.
      const token = await newGuest(cluster.url);
      for (let i = 0; i < 10; i++) {
        const answer = await shorten(cluster.url, token, `https://example.com/during-cut/${i}`);
        expect(answer.status, JSON.stringify(answer.body)).toBe(201);
      }
      await traffic.answered(50);
    } finally {
      await cluster.network.restore(cut.process.host, 'redis');
      await traffic.stop();
      cutHealth.close();
      otherHealth.close();
    }
    expect(traffic.failures.slice(0, 5)).toEqual([]);
    // Back by itself once the link returns: it reports it can issue ids, and creates there again.
    const healthAgain = healthChecker(cut.address);
    try {
      await within(20_000, async () => (await healthAgain.status(IDS, 1_000)) === 'SERVING');
    } finally {
      healthAgain.close();
    }
    await within(20_000, () =>
      cutLink.createLink(request).then(
        () => true,
        () => false,
      ),
    );
  }, 90_000);

  test('when a link instance is killed mid-traffic, then redirects keep answering through the other and no click is lost', async () => {
    // Fresh codes: the first pass over them is resolved by the link instances, not the near caches.
    const { codes } = await madeLinks(100);
    const victim = cluster.links[0]?.process;
    if (!victim) throw new Error('no link instance');
    const traffic = steadyTraffic(cluster.url, codes, 4);
    try {
      await traffic.answered(40);
      await victim.kill();
      await traffic.answered(400);
    } finally {
      await traffic.stop();
      // Back for the stories after this one.
      await victim.start();
    }
    const { statuses } = traffic;
    expect(traffic.failures.slice(0, 5)).toEqual([]);
    expect(statuses.filter((status) => status !== 302)).toEqual([]);
    const stored = await settledVisits(cluster.infra, traffic.redirected);
    expect(stored.rows).toEqual(Object.fromEntries(traffic.redirected));
    expect(stored.rollups).toEqual(Object.fromEntries(traffic.redirected));
  }, 120_000);

  test('when two sweepers purge expired links and two visit recorders store clicks (one killed mid-way), then nothing is processed twice', async () => {
    const broker = await amqp(cluster.infra.rabbitmqForTest);
    const channel = await broker.createChannel();
    const { queue } = await channel.assertQueue('', { exclusive: true });
    await channel.bindQueue(queue, 'shortener.events', EVENTS.linkExpired);
    const expired: LinkExpired[] = [];
    await channel.consume(
      queue,
      (message) => {
        if (message) expired.push(LinkExpired.decode(message.content));
      },
      { noAck: true },
    );
    try {
      const token = await newGuest(cluster.url);
      const expiresAt = new Date(Date.now() + 3_000).toISOString();
      const expiring: string[] = [];
      for (let i = 0; i < 30; i++) {
        const made = await shorten(cluster.url, token, `https://example.com/expiring/${i}`, {
          expiresAt,
        });
        expect(made.status).toBe(201);
        expiring.push(made.body.code);
      }

      // Meanwhile, clicks: an analytics instance dies with batches unacknowledged, which the other gets again.
      const { codes } = await madeLinks(5);
      const traffic = steadyTraffic(cluster.url, codes, 4);
      await traffic.answered(300);
      const recorder = cluster.analytics[0];
      if (!recorder) throw new Error('no analytics instance');
      try {
        await recorder.kill();
        await traffic.answered(300);
      } finally {
        await traffic.stop();
        await recorder.start();
      }

      await within(30_000, () => expired.filter((e) => expiring.includes(e.code)).length >= 30);
      await sleep(2_000);
      const ours = expired.filter((event) => expiring.includes(event.code));
      expect(ours.map((event) => event.code).sort()).toEqual([...expiring].sort());
      expect(new Set(ours.map((event) => event.eventId)).size).toBe(30);
      for (const code of expiring)
        expect((await call(cluster.url, 'GET', `/${code}`)).status).toBe(404);

      expect(traffic.failures.slice(0, 5)).toEqual([]);
      const stored = await settledVisits(cluster.infra, traffic.redirected);
      expect(stored.rows).toEqual(Object.fromEntries(traffic.redirected));
      expect(stored.rollups).toEqual(Object.fromEntries(traffic.redirected));
    } finally {
      await broker.close();
    }
  }, 120_000);

  test('when every service is restarted in turn under steady traffic through the balancer, then no redirect fails and no click is lost', async () => {
    const { codes } = await madeLinks(20);
    const traffic = steadyTraffic(cluster.url, codes, 4, 10);
    await traffic.answered(50);
    for (const part of cluster.services()) {
      await part.restart();
      // Back in rotation before the next goes: clients reconnect (at most 2 s
      // apart), the balancer needs two passing checks.
      await sleep(part.service === 'gateway' ? 4 * CHECK_INTERVAL_MS + 500 : 2_500);
      await traffic.answered(20);
    }
    const statuses = await traffic.stop();
    expect(statuses.length).toBeGreaterThan(200);
    expect(traffic.failures.slice(0, 5)).toEqual([]);
    expect(statuses.filter((status) => status !== 302)).toEqual([]);
    const stored = await settledVisits(cluster.infra, traffic.redirected, 60_000);
    expect(stored.rows).toEqual(Object.fromEntries(traffic.redirected));
    expect(stored.rollups).toEqual(Object.fromEntries(traffic.redirected));
    expectNoUnexpectedExits();
  }, 240_000);
});
