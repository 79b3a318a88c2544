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
