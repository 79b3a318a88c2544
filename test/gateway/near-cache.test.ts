// The gateway's near cache trusts only what the link service's change stream
// vouches for: a reset lets it cache, a pause stops it, changed codes drop
// exactly those, and a stream gone silent counts as lost.
import type { ServerWritableStream, UntypedServiceImplementation } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { RunningGateway } from '../../gateway/main.ts';
import { NearCache, SILENCE_MS } from '../../gateway/near-cache.ts';
import {
  LinkServiceService,
  type ResolveLinksRequest,
  type ResolveLinksResponse,
  ResolveStatus,
  type WatchLinkChangesRequest,
  type WatchLinkChangesResponse,
} from '../../gen/shortener/v1/link.ts';
import { serverStream, unary } from '../../lib/grpc/handlers.ts';
import { type RunningGrpcServer, startGrpcServer } from '../../lib/grpc/server.ts';
import { call, within } from '../support/http.ts';
import { testLog } from '../support/logger.ts';
import { startGatewayWith } from '../support/mesh.ts';

type Stream = ServerWritableStream<WatchLinkChangesRequest, WatchLinkChangesResponse>;
const say = (stream: Stream | undefined, message: Partial<WatchLinkChangesResponse>) =>
  stream?.write({ codes: [], reset: false, paused: false, ...message });

describe('the near cache and the change stream', () => {
  let link: RunningGrpcServer;
  let gateway: RunningGateway;
  const streams: Stream[] = [];
  let resolves = 0;
  let heartbeat: NodeJS.Timeout | undefined;

  beforeAll(async () => {
    const implementation = {
      resolveLinks: unary<ResolveLinksRequest, ResolveLinksResponse>(
        'ResolveLinks',
        testLog,
        async (request) => {
          resolves += request.items.length;
          return {
            results: request.items.map((item) => ({
              status: ResolveStatus.RESOLVE_STATUS_FOUND,
              linkId: '1',
              targetUrl: `https://example.com/${item.code}`,
              errorCode: '',
              errorMessage: '',
            })),
          };
        },
      ),
      watchLinkChanges: serverStream<WatchLinkChangesRequest, WatchLinkChangesResponse>(
        'WatchLinkChanges',
        testLog,
        (stream) => {
          streams.push(stream);
        },
      ),
    } as unknown as UntypedServiceImplementation;
    link = await startGrpcServer({
      listen: '127.0.0.1:0',
      services: [
        { name: 'shortener.v1.LinkService', definition: LinkServiceService, implementation },
      ],
      log: testLog,
    });
    gateway = await startGatewayWith(
      {
        GATEWAY_LISTEN: '127.0.0.1:0',
        LINK_GRPC_TARGET: link.address,
        IDENTITY_GRPC_TARGET: '127.0.0.1:1',
        LOG_LEVEL: 'error',
      },
      testLog,
    );
    await within(5_000, async () => streams.length === 1);
    // As the link service does: a message at least every second.
    heartbeat = setInterval(() => say(streams.at(-1), {}), 500);
  });
  afterAll(async () => {
    clearInterval(heartbeat);
    await gateway?.stop();
    await link?.shutdown(1_000);
  });

  test('when the stream says reset, then hot links are answered from the near cache', async () => {
    say(streams[0], { reset: true });
    await within(1_000, async () => gateway.near.live);
    expect((await call(gateway.url, 'GET', '/HotOne1')).status).toBe(302);
    const before = resolves;
    const again = await call(gateway.url, 'GET', '/HotOne1');
    expect(again.headers.get('location')).toBe('https://example.com/HotOne1');
    expect(resolves).toBe(before);
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
    const before = resolves;
    expect((await call(gateway.url, 'GET', '/Keep001')).status).toBe(302);
    expect((await call(gateway.url, 'GET', '/Keep001')).status).toBe(302);
    expect(resolves).toBe(before + 2);
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

describe('near cache epochs', () => {
  test('when anything was invalidated while a resolution was in flight, then that resolution is not cached', () => {
    const near = new NearCache(10, 60_000);
    near.reset();
    const started = near.epoch;
    near.invalidate(['Other01']);
    near.fill('Racing1', { targetUrl: 'https://example.com/old', expiresAt: null }, started);
    expect(near.get('Racing1')).toBeUndefined();
    near.fill('Racing1', { targetUrl: 'https://example.com/new', expiresAt: null }, near.epoch);
    expect(near.get('Racing1')?.targetUrl).toBe('https://example.com/new');
  });
});
