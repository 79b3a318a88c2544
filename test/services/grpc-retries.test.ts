// Retries follow the protos: a method marked NO_SIDE_EFFECTS is sent again on
// UNAVAILABLE, with backoff, by every client made with connect(); any other
// method is sent once, since sending it twice could do its work twice.

import {
  type AddressInfo,
  connect as connectTcp,
  createServer as createNetServer,
  type Server as NetServer,
  type Socket,
} from 'node:net';
import {
  Metadata,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type sendUnaryData,
  status,
} from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  AnalyticsServiceClient,
  AnalyticsServiceService,
  GetLinkStatsRequest,
  GetLinkStatsResponse,
} from '../../gen/shortener/v1/analytics.ts';
import {
  type AuthenticateRequest,
  type AuthenticateResponse,
  IdentityServiceClient,
  IdentityServiceService,
  type IssueGuestRequest,
  type IssueGuestResponse,
} from '../../gen/shortener/v1/identity.ts';
import { PrincipalKind } from '../../gen/shortener/v1/principal.ts';
import { DomainError } from '../../lib/errors.ts';
import { connect, promiseClient } from '../../lib/grpc/client.ts';
import { idempotentMethods } from '../../lib/grpc/retry-policy.ts';

const unavailable = { code: status.UNAVAILABLE, details: 'restarting' };

describe('retries', () => {
  let server: Server;
  let target: string;
  /** How many times the server saw each method; the first `failFirst` of each answer UNAVAILABLE. */
  const seen = { authenticate: 0, issueGuest: 0, getLinkStats: 0 };
  let failFirst = 1;

  beforeAll(async () => {
    server = new Server();
    server.addService(IdentityServiceService, {
      authenticate: (
        _call: ServerUnaryCall<AuthenticateRequest, AuthenticateResponse>,
        callback: sendUnaryData<AuthenticateResponse>,
      ) => {
        if (++seen.authenticate <= failFirst) return callback(unavailable);
        callback(null, {
          principal: { id: '123456789012345678', kind: PrincipalKind.PRINCIPAL_KIND_GUEST },
        });
      },
      issueGuest: (
        _call: ServerUnaryCall<IssueGuestRequest, IssueGuestResponse>,
        callback: sendUnaryData<IssueGuestResponse>,
      ) => {
        if (++seen.issueGuest <= failFirst) return callback(unavailable);
        callback(null, { guest: undefined, token: 't', tokenExpiresAt: undefined });
      },
      revokeToken: (_call: unknown, callback: sendUnaryData<object>) => callback(null, {}),
    });
    const unused = (_call: unknown, callback: sendUnaryData<never>) =>
      callback({ code: status.UNIMPLEMENTED });
    server.addService(AnalyticsServiceService, {
      getLinkStats: (
        call: ServerUnaryCall<GetLinkStatsRequest, GetLinkStatsResponse>,
        callback: sendUnaryData<GetLinkStatsResponse>,
      ) => {
        if (++seen.getLinkStats <= failFirst) return callback(unavailable);
        callback(
          null,
          GetLinkStatsResponse.fromPartial({ fromDate: call.request.fromDate, total: '42' }),
        );
      },
      listVisits: unused,
      getTopLinks: unused,
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    target = `127.0.0.1:${port}`;
  });
  afterAll(() => server?.forceShutdown());

  test('the retried methods are exactly the ones the protos mark NO_SIDE_EFFECTS', () => {
    expect([...idempotentMethods()].sort()).toEqual([
      '/shortener.v1.AnalyticsService/GetLinkStats',
      '/shortener.v1.AnalyticsService/GetTopLinks',
      '/shortener.v1.AnalyticsService/ListVisits',
      '/shortener.v1.IdentityService/Authenticate',
      '/shortener.v1.IdentityService/GetMemberContact',
      '/shortener.v1.IdentityService/GetUser',
      '/shortener.v1.IdentityService/ListApiKeys',
      '/shortener.v1.LinkService/GetLink',
      '/shortener.v1.LinkService/ListLinks',
      '/shortener.v1.LinkService/ResolveLink',
      '/shortener.v1.LinkService/ResolveLinks',
      '/shortener.v1.LinkService/WatchLinkChanges',
    ]);
  });

  test('when a read-only call meets UNAVAILABLE twice, then the standard client retries and it succeeds', async () => {
    const client = connect(IdentityServiceClient, target, 5_000);
    try {
      seen.authenticate = 0;
      failFirst = 2;
      const identity = promiseClient(client, IdentityServiceService);
      const answer = await identity.authenticate({ token: 'x' });
      expect(answer.principal?.id).toBe('123456789012345678');
      expect(seen.authenticate).toBe(3);
    } finally {
      client.close();
    }
  });

  test("when one of analytics' reads meets UNAVAILABLE twice, then the standard client retries and it succeeds", async () => {
    const client = connect(AnalyticsServiceClient, target, 5_000);
    try {
      seen.getLinkStats = 0;
      failFirst = 2;
      const analytics = promiseClient(client, AnalyticsServiceService);
      const answer = await analytics.getLinkStats(
        GetLinkStatsRequest.fromPartial({ code: 'aB3xY9z', fromDate: '2026-11-01' }),
      );
      expect(answer).toMatchObject({ fromDate: '2026-11-01', total: '42' });
      expect(seen.getLinkStats).toBe(3);
    } finally {
      client.close();
    }
  });

  test('when a call with side effects meets UNAVAILABLE, then it fails at once and is sent only once', async () => {
    const client = connect(IdentityServiceClient, target, 5_000);
    try {
      seen.issueGuest = 0;
      failFirst = 1;
      const identity = promiseClient(client, IdentityServiceService);
      const failure = await identity.issueGuest({ client: undefined }).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(DomainError);
      expect((failure as DomainError).kind).toBe('unavailable');
      // Give a (wrong) retry every chance to show up.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(seen.issueGuest).toBe(1);
    } finally {
      client.close();
    }
  });

  test('when a read-only call keeps meeting UNAVAILABLE, then it gives up after three attempts', async () => {
    const client = connect(IdentityServiceClient, target, 5_000);
    try {
      seen.authenticate = 0;
      failFirst = 100;
      const identity = promiseClient(client, IdentityServiceService);
      await expect(identity.authenticate({ token: 'x' })).rejects.toMatchObject({
        kind: 'unavailable',
      });
      expect(seen.authenticate).toBe(3);
    } finally {
      client.close();
    }
  });
});

// A callee killed mid-call: its connection drops with the call in flight,
// sometimes after the answer's headers went out. grpc-js retries only until
// it has seen those headers, so the standard stack sends such a call once
// more itself (resendDropped in lib/grpc/client.ts).
describe('a connection dropped mid-call', () => {
  let server: Server;
  let proxy: NetServer;
  let target: string;
  const sockets = new Set<Socket>();
  let calls = 0;

  beforeAll(async () => {
    server = new Server();
    server.addService(IdentityServiceService, {
      authenticate: (
        call: ServerUnaryCall<AuthenticateRequest, AuthenticateResponse>,
        callback: sendUnaryData<AuthenticateResponse>,
      ) => {
        // Every odd call dies with its connection, as if the process were
        // killed: closed (FIN, as the kernel closes a dead process's sockets)
        // or reset (RST, when it held unread bytes), in turn; every other of
        // those after its headers went out.
        if (++calls % 2 === 1) {
          const reset = calls % 4 === 1;
          const drop = () => {
            for (const socket of sockets) {
              if (reset) socket.resetAndDestroy();
              else socket.destroy();
            }
          };
          if (calls % 8 < 4) {
            call.sendMetadata(new Metadata());
            setTimeout(drop, 20);
          } else drop();
          return;
        }
        callback(null, {
          principal: { id: '123456789012345678', kind: PrincipalKind.PRINCIPAL_KIND_GUEST },
        });
      },
      issueGuest: (_call: unknown, callback: sendUnaryData<never>) =>
        callback({ code: status.UNIMPLEMENTED }),
      revokeToken: (_call: unknown, callback: sendUnaryData<object>) => callback(null, {}),
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    proxy = createNetServer((client) => {
      const upstream = connectTcp(port, '127.0.0.1');
      sockets.add(client);
      sockets.add(upstream);
      client.pipe(upstream).pipe(client);
      const forget = () => {
        sockets.delete(client);
        sockets.delete(upstream);
        client.destroy();
        upstream.destroy();
      };
      client.on('error', forget).on('close', forget);
      upstream.on('error', forget).on('close', forget);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    target = `127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => proxy?.close(resolve));
    server?.forceShutdown();
  });

  test('when the connection drops with a read-only call in flight, then the call is sent again and succeeds, every time', async () => {
    const client = connect(IdentityServiceClient, target, 5_000);
    try {
      const identity = promiseClient(client, IdentityServiceService);
      calls = 0;
      for (let i = 0; i < 40; i++) {
        const answer = await identity.authenticate({ token: 'x' });
        expect(answer.principal?.id).toBe('123456789012345678');
      }
      // Each answer took two attempts: the dropped one and the one that answered.
      expect(calls).toBe(80);
    } finally {
      client.close();
    }
  });
});
