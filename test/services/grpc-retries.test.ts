// Retries follow the protos: a method marked NO_SIDE_EFFECTS is sent again on
// UNAVAILABLE, with backoff, by every client made with connect(); any other
// method is sent once, since sending it twice could do its work twice.
import {
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
