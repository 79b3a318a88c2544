// The gateway's near cache trusts only what the link service's change stream
// vouches for: a reset lets it cache, a pause stops it, changed codes drop
// exactly those, and a stream gone silent counts as lost.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { RunningGateway } from '../../gateway/main.ts';
import { NearCache, SILENCE_MS } from '../../gateway/near-cache.ts';
import type { WatchLinkChangesResponse } from '../../gen/shortener/v1/link.ts';
import {
  type ChangeStream,
  type FakeLinkService,
  found,
  notFound,
  startFakeLinkService,
  startGatewayFor,
} from '../support/fake-link-service.ts';
import { call } from '../support/http.ts';
import { within } from '../support/wait.ts';

const say = (stream: ChangeStream | undefined, message: Partial<WatchLinkChangesResponse>) =>
  stream?.write({ codes: [], reset: false, paused: false, ...message });

describe('the near cache and the change stream', () => {
  let link: FakeLinkService;
  let gateway: RunningGateway;
  let streams: ChangeStream[];
  /** How many codes the link service has been asked to resolve. */
  const resolves = () => link.calls.flat().length;
  let heartbeat: NodeJS.Timeout | undefined;

  beforeAll(async () => {
    link = await startFakeLinkService({ watchChanges: true });
    streams = link.streams;
    gateway = await startGatewayFor(link);
    await within(5_000, async () => streams.length === 1);
    // As the link service does: a message at least every second.
    heartbeat = setInterval(() => say(streams.at(-1), {}), 500);
  });
  afterAll(async () => {
    clearInterval(heartbeat);
    await gateway?.stop();
    await link?.server.shutdown(1_000);
  });

  test('when the stream says reset, then hot links are answered from the near cache', async () => {
    say(streams[0], { reset: true });
    await within(1_000, async () => gateway.near.live);
    expect((await call(gateway.url, 'GET', '/HotOne1')).status).toBe(302);
    const before = resolves();
    const again = await call(gateway.url, 'GET', '/HotOne1');
    expect(again.headers.get('location')).toBe('https://example.com/HotOne1');
    expect(resolves()).toBe(before);
  });

  test('when changed codes arrive, then exactly those are dropped', async () => {
    await call(gateway.url, 'GET', '/Keep001');
    await call(gateway.url, 'GET', '/Drop001');
    expect(gateway.near.get('Drop001')).toBeDefined();
    say(streams.at(-1), { codes: ['Drop001'] });
    await within(1_000, async () => gateway.near.get('Drop001') === undefined);
    expect(gateway.near.get('Keep001')).toBeDefined();
  });

  test('when the stream says paused, then nothing is cached or served from the cache until a reset', async () => {
    say(streams.at(-1), { paused: true });
    await within(1_000, async () => !gateway.near.live);
    const before = resolves();
    expect((await call(gateway.url, 'GET', '/Keep001')).status).toBe(302);
    expect((await call(gateway.url, 'GET', '/Keep001')).status).toBe(302);
    expect(resolves()).toBe(before + 2);
    say(streams.at(-1), { reset: true });
    await within(1_000, async () => gateway.near.live);
  });

  test('when the stream goes silent, then the near cache goes off and the gateway opens a new stream', async () => {
    await call(gateway.url, 'GET', '/Silent1');
    expect(gateway.near.get('Silent1')).toBeDefined();
    clearInterval(heartbeat);
    const silentSince = Date.now();
    await within(SILENCE_MS + 2_000, async () => !gateway.near.live);
    expect(Date.now() - silentSince).toBeGreaterThanOrEqual(SILENCE_MS - 600);
    await within(3_000, async () => streams.length === 2);
    say(streams[1], { reset: true });
    await within(1_000, async () => gateway.near.live);
  });
});

/** A near-cache entry for a link of no expiry redirecting to `targetUrl`. */
const entry = (targetUrl: string) => ({ linkId: '1', ownerId: '2', targetUrl, expiresAt: null });

describe('near cache epochs', () => {
  test('when anything was invalidated while a resolution was in flight, then that resolution is not cached', () => {
    const near = new NearCache(10, 60_000);
    near.resume();
    const started = near.epoch;
    near.drop(['Other01']);
    near.fill('Racing1', entry('https://example.com/old'), started);
    expect(near.get('Racing1')).toBeUndefined();
    near.fill('Racing1', entry('https://example.com/new'), near.epoch);
    expect(near.get('Racing1')?.targetUrl).toBe('https://example.com/new');
  });
});

describe('near-cache entries filled together', () => {
  test('when many links are cached at once, then they expire spread over the last quarter of the TTL, not all together', () => {
    const near = new NearCache(10_000, 40_000);
    near.resume();
    const epoch = near.epoch;
    for (let i = 0; i < 2_000; i++) {
      near.fill(
        `Code${String(i).padStart(3, '0')}`,
        { linkId: String(i + 1), ownerId: '1', targetUrl: 'https://example.com/', expiresAt: null },
        epoch,
      );
    }
    const left = Array.from({ length: 2_000 }, (_, i) =>
      near.remainingMs(`Code${String(i).padStart(3, '0')}`),
    );
    expect(Math.min(...left)).toBeGreaterThanOrEqual(0.75 * 40_000 - 1_000);
    expect(Math.max(...left)).toBeLessThanOrEqual(40_000);
    // Spread out: each tenth of that quarter holds some of them.
    const buckets = new Set(
      left.map((ms) => Math.max(0, Math.min(9, Math.floor((ms - 30_000) / 1_000)))),
    );
    expect(buckets.size).toBe(10);
  });
});

describe('near-cache entries past their TTL', () => {
  let link: FakeLinkService;
  let gateway: RunningGateway;
  let heartbeat: NodeJS.Timeout | undefined;
  /** What the link service answers now, per code: a target, or gone. */
  const targets = new Map<string, string | 'gone'>();

  beforeAll(async () => {
    link = await startFakeLinkService({
      watchChanges: true,
      // Slow, so that a request that waited on it would show.
      delayMs: 300,
      resolve: (item) => {
        const target = targets.get(item.code) ?? `https://example.com/${item.code}`;
        return target === 'gone' ? notFound() : found(target);
      },
    });
    gateway = await startGatewayFor(link, { NEAR_CACHE_TTL: '400ms' });
    await within(5_000, async () => link.streams.length === 1);
    say(link.streams[0], { reset: true });
    heartbeat = setInterval(() => say(link.streams.at(-1), {}), 500);
    await within(1_000, async () => gateway.near.live);
  });
  afterAll(async () => {
    clearInterval(heartbeat);
    await gateway?.stop();
    await link?.server.shutdown(1_000);
  });

  const resolved = (code: string) => link.calls.flat().filter((item) => item.code === code);

  test('when a hot link is past its TTL, then it is answered at once from the cache and refetched once in the background, with what the link service says now', async () => {
    expect((await call(gateway.url, 'GET', '/Stale01')).status).toBe(302);
    await new Promise((resolve) => setTimeout(resolve, 450));
    targets.set('Stale01', 'https://example.com/moved');
    const asked = resolved('Stale01').length;
    const started = performance.now();
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => call(gateway.url, 'GET', '/Stale01')),
    );
    expect(performance.now() - started).toBeLessThan(250);
    expect(answers.map((answer) => answer.headers.get('location'))).toEqual(
      Array(5).fill('https://example.com/Stale01'),
    );
    // One refetch for all five, sent as HEAD (it spends nothing), then the new target.
    await within(2_000, async () => resolved('Stale01').length === asked + 1);
    expect(resolved('Stale01').at(-1)?.head).toBe(true);
    await within(2_000, async () => {
      const answer = await call(gateway.url, 'GET', '/Stale01');
      return answer.headers.get('location') === 'https://example.com/moved';
    });
  });

  test('when the refetch finds the link gone, then the next request asks the link service and is told so', async () => {
    expect((await call(gateway.url, 'GET', '/Stale02')).status).toBe(302);
    await new Promise((resolve) => setTimeout(resolve, 450));
    targets.set('Stale02', 'gone');
    expect((await call(gateway.url, 'GET', '/Stale02')).status).toBe(302);
    await within(2_000, async () => gateway.near.get('Stale02') === undefined);
    expect((await call(gateway.url, 'GET', '/Stale02')).status).toBe(404);
  });

  test('when an entry is past its TTL by more than the stale allowance, then it is not answered', async () => {
    expect((await call(gateway.url, 'GET', '/Stale03')).status).toBe(302);
    expect(gateway.near.getAllowingStale('Stale03', 60_000)).toBeDefined();
    await new Promise((resolve) => setTimeout(resolve, 450));
    // Past the TTL: answered only within the allowance asked for.
    expect(gateway.near.getAllowingStale('Stale03', 60_000)).toBeDefined();
    expect(gateway.near.refreshDue).toBe(true);
    expect(gateway.near.getAllowingStale('Stale03', 10)).toBeUndefined();
    expect(gateway.near.getAllowingStale('Stale03', 60_000)).toBeUndefined();
  });
});
