// What the middleware stacks promise every handler and caller: the handler's
// context carries the caller's deadline and cancellation as an AbortSignal,
// a stream through the client stack settles when it ends, and Redis calls
// made for a call give up with it (the cache read in front of the database
// with half of what is left, so the fallback keeps the rest).
import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  CreateLinkRequest,
  CreateLinkResponse,
  LinkServiceClient,
  LinkServiceService,
  type ResolveLinksRequest,
  type ResolveLinksResponse,
  type WatchLinkChangesRequest,
  type WatchLinkChangesResponse,
} from '../../gen/shortener/v1/link.ts';
import { RedisCache } from '../../lib/cache/redis-cache.ts';
import { CallDeadline, withCallSignal } from '../../lib/call-scope.ts';
import { DomainError } from '../../lib/errors.ts';
import { connect, promiseClient } from '../../lib/grpc/client.ts';
import { serverStream, unary } from '../../lib/grpc/handlers.ts';
import { type RunningGrpcServer, startGrpcServer } from '../../lib/grpc/server.ts';
import { LinkCache } from '../../services/link/store/link-cache.ts';
import { testLog } from '../support/logger.ts';
import { OwnRedis } from '../support/redis-server.ts';

import { sleep, within } from '../support/wait.ts';

interface Seen {
  abortedAfterMs: number;
  reason: unknown;
}

describe('the call context', () => {
  let server: RunningGrpcServer;
  const seen: Seen[] = [];
  const watch = (signal: AbortSignal, started: number) =>
    signal.addEventListener('abort', () =>
      seen.push({ abortedAfterMs: performance.now() - started, reason: signal.reason }),
    );

  beforeAll(async () => {
    const implementation = {
      // Works until its caller gives up.
      resolveLinks: unary<ResolveLinksRequest, ResolveLinksResponse>(
        'ResolveLinks',
        testLog,
        async (_request, context) => {
          watch(context.signal, performance.now());
          await new Promise((resolve) => context.signal.addEventListener('abort', resolve));
          return { results: [] };
        },
      ),
      // Answers at once.
      createLink: unary<CreateLinkRequest, CreateLinkResponse>(
        'CreateLink',
        testLog,
        async (_request, context) => {
          watch(context.signal, performance.now());
          return CreateLinkResponse.fromPartial({});
        },
      ),
      watchLinkChanges: serverStream<WatchLinkChangesRequest, WatchLinkChangesResponse>(
        'WatchLinkChanges',
        testLog,
        (stream, context) => {
          watch(context.signal, performance.now());
          stream.write({ codes: ['Hello01'], reset: true, paused: false });
        },
      ),
    } as unknown as UntypedServiceImplementation;
    server = await startGrpcServer({
      listen: '127.0.0.1:0',
      services: [
        { name: 'shortener.v1.LinkService', definition: LinkServiceService, implementation },
      ],
      log: testLog,
    });
  });
  afterAll(() => server?.shutdown(1_000));

  test('when the caller’s deadline passes mid-call, then the handler’s signal aborts with a deadline reason', async () => {
    const raw = connect(LinkServiceClient, server.address, 5_000);
    try {
      seen.length = 0;
      const link = promiseClient(raw, LinkServiceService);
      const failure = await link.resolveLinks({ items: [] }, { deadline: Date.now() + 250 }).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect((failure as DomainError).kind).toBe('deadline');
      await sleep(50);
      expect(seen).toHaveLength(1);
      expect(seen[0]?.abortedAfterMs).toBeGreaterThan(150);
      expect(seen[0]?.abortedAfterMs).toBeLessThan(400);
      expect(seen[0]?.reason).toMatchObject({ kind: 'deadline' });
    } finally {
      raw.close();
    }
  });

  test('when a call has answered, then its signal stays unaborted (grpc-js reports every ended call as cancelled)', async () => {
    const raw = connect(LinkServiceClient, server.address, 5_000);
    try {
      seen.length = 0;
      const link = promiseClient(raw, LinkServiceService);
      for (let i = 0; i < 5; i++) {
        await link.createLink(CreateLinkRequest.fromPartial({ targetUrl: 'https://example.com/' }));
      }
      await sleep(50);
      expect(seen).toEqual([]);
    } finally {
      raw.close();
    }
  });

  test('when the caller cancels, then the handler’s signal aborts at once', async () => {
    const raw = connect(LinkServiceClient, server.address, 5_000);
    try {
      seen.length = 0;
      const link = promiseClient(raw, LinkServiceService);
      const cancel = new AbortController();
      const limit = Error.stackTraceLimit;
      const call = link.resolveLinks({ items: [] }, { signal: cancel.signal });
      await sleep(100);
      cancel.abort();
      const failure = await call.then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(DomainError);
      // The call started without grpc-js's record of its caller; the failure has its own stack.
      expect(Error.stackTraceLimit).toBe(limit);
      expect((failure as DomainError).stack).toMatch(/\n\s+at /);
      await sleep(50);
      expect(seen).toHaveLength(1);
      expect(seen[0]?.reason).toMatchObject({ code: 'cancelled' });
    } finally {
      raw.close();
    }
  });

  test('when a stream through the client stack is cancelled, then its promise settles and the handler hears it', async () => {
    const raw = connect(LinkServiceClient, server.address, 5_000);
    try {
      seen.length = 0;
      const link = promiseClient(raw, LinkServiceService);
      const cancel = new AbortController();
      const messages: WatchLinkChangesResponse[] = [];
      const stream = link.watchLinkChanges(
        {},
        {
          deadline: Number.POSITIVE_INFINITY,
          signal: cancel.signal,
          onMessage: (message) => messages.push(message),
        },
      );
      await within(5_000, () => messages.length > 0);
      await sleep(200);
      // No deadline: the stream stays open, its signal untouched.
      expect(messages.map((m) => m.codes)).toEqual([['Hello01']]);
      expect(seen).toHaveLength(0);
      cancel.abort();
      await expect(stream).rejects.toMatchObject({ kind: 'unavailable' });
      await within(5_000, () => seen.length > 0);
      expect(seen).toHaveLength(1);
    } finally {
      raw.close();
    }
  });
});

describe('Redis calls made for a call', () => {
  let redis: OwnRedis;
  let client: Redis;
  let pauser: Redis;

  beforeAll(async () => {
    redis = await OwnRedis.start();
    client = new Redis(redis.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    pauser = new Redis(redis.url);
    await new Promise((resolve) => client.once('ready', resolve));
  });
  afterAll(async () => {
    client?.disconnect();
    pauser?.disconnect();
    await redis?.kill();
  });

  test('when Redis hangs, then the cache read gives up at half the call’s budget and the resolver may fall back', async () => {
    const cache = new LinkCache(new RedisCache(client, 't:'), {
      ttlMs: 60_000,
      negativeTtlMs: 60_000,
      log: testLog,
      idleMs: 180 * 86_400_000,
      now: Date.now,
    });
    await pauser.client('PAUSE', 2_000, 'ALL');
    const deadline = new CallDeadline(Date.now() + 600, 600);
    try {
      const started = performance.now();
      const cached = await withCallSignal(
        deadline.signal,
        () => cache.getMany(['Hanging']),
        Date.now() + 600,
      );
      const elapsed = performance.now() - started;
      // Nothing trusted from the cache, and time left for the database.
      expect(cached).toEqual([undefined]);
      expect(elapsed).toBeGreaterThan(200);
      expect(elapsed).toBeLessThan(500);
      expect(deadline.signal.aborted).toBe(false);
    } finally {
      deadline.dispose();
      await pauser.client('UNPAUSE');
    }
  });
});
