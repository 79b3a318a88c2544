// The services' gRPC edges as every client sees them: undecodable requests are
// the caller's fault (INVALID_ARGUMENT, not INTERNAL) and harm nothing, errors
// carry the documented status and trailers, and every call made through the
// shared client helper carries a deadline the callee can see.
import { Metadata, Server, type ServerUnaryCall, type sendUnaryData, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, onTestFinished, test } from 'vitest';
import {
  type AuthenticateRequest,
  type AuthenticateResponse,
  IdentityServiceClient,
  IdentityServiceService,
  type IssueGuestRequest,
  type IssueGuestResponse,
  type RevokeTokenRequest,
  type RevokeTokenResponse,
} from '../../gen/shortener/v1/identity.ts';
import {
  type CreateLinkResponse,
  type DeleteLinkResponse,
  type GetLinkResponse,
  LinkServiceClient,
  type ListLinksResponse,
  type ResolveLinkResponse,
  type ResolveLinksResponse,
  ResolveStatus,
} from '../../gen/shortener/v1/link.ts';
import { type Principal, PrincipalKind } from '../../gen/shortener/v1/principal.ts';
import { DomainError } from '../../lib/errors.ts';
import { connect, promiseClient } from '../../lib/grpc/client.ts';
import { bindLocally, outcome, sendRaw, trailer } from '../support/grpc.ts';
import { MESH_FLAVOURS, meshForSuite } from '../support/mesh.ts';

const MALFORMED: [string, Buffer][] = [
  [
    'a length-delimited field longer than the message',
    Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]),
  ],
  ['an invalid wire type', Buffer.from([0x0f, 0x01, 0x02])],
  ['a truncated nested message', Buffer.from([0x0a, 0x05, 0x0a, 0x01])],
];

const METHODS = [
  { name: 'LinkService/CreateLink', path: '/shortener.v1.LinkService/CreateLink', service: 'link' },
  {
    name: 'IdentityService/IssueGuest',
    path: '/shortener.v1.IdentityService/IssueGuest',
    service: 'identity',
  },
] as const;

const callerDetails = (ip: string) => ({
  ip,
  userAgent: 'grpc-edges test',
  referer: '',
  acceptLanguage: '',
  traceparent: '',
  tracestate: '',
});

describe.each(MESH_FLAVOURS)('gRPC edges of a running mesh (%s)', (flavour) => {
  const mesh = meshForSuite(flavour, { RATE_LIMIT_GUESTS_PER_IP: '2/1h' });
  let link: LinkServiceClient;
  let identity: IdentityServiceClient;
  let ipCounter = 0;
  const freshIp = () => `198.51.100.${++ipCounter}`;

  const issueGuest = (ip: string) =>
    outcome<IssueGuestResponse>((callback) =>
      identity.issueGuest({ client: callerDetails(ip) }, callback),
    );

  const createLink = (caller: Principal | undefined, targetUrl: string) =>
    outcome<CreateLinkResponse>((callback) =>
      link.createLink(
        { caller, targetUrl, expiresAt: undefined, client: callerDetails('192.0.2.1'), alias: '' },
        callback,
      ),
    );

  /** A proper call to each service succeeds: the servers are still serving. */
  const expectStillServing = async () => {
    const issued = await issueGuest(freshIp());
    expect(issued.error).toBeNull();
    const guest = issued.response?.guest;
    expect(guest?.kind).toBe(PrincipalKind.PRINCIPAL_KIND_GUEST);
    const created = await createLink(guest, `https://example.com/after/${guest?.id}`);
    expect(created.error).toBeNull();
    expect(created.response?.created).toBe(true);
    const resolved = await outcome<ResolveLinkResponse>((callback) =>
      link.resolveLink({ code: created.response?.link?.code ?? '' }, callback),
    );
    expect(resolved.error).toBeNull();
    expect(resolved.response?.targetUrl).toBe(`https://example.com/after/${guest?.id}`);
  };

  beforeAll(async () => {
    link = connect(LinkServiceClient, mesh.mesh.link.address, 5_000);
    identity = connect(IdentityServiceClient, mesh.mesh.identity.address, 5_000);
  });
  afterAll(async () => {
    link?.close();
    identity?.close();
  });

  for (const method of METHODS) {
    test.each(MALFORMED)(
      `when ${method.name} receives %s, then INVALID_ARGUMENT and the server keeps serving`,
      async (_story, bytes) => {
        const address =
          method.service === 'link' ? mesh.mesh.link.address : mesh.mesh.identity.address;
        const answer = await sendRaw(address, method.path, bytes);
        expect(answer.error?.code).toBe(status.INVALID_ARGUMENT);
        expect(answer.response).toBeUndefined();
        await expectStillServing();
      },
    );
  }

  test('when CreateLink has no caller, then UNAUTHENTICATED and nothing is created', async () => {
    const anonymous = await createLink(undefined, 'https://example.com/anonymous');
    expect(anonymous.error?.code).toBe(status.UNAUTHENTICATED);
    // An empty principal (id 0) and a negative id are no callers either.
    for (const id of ['0', '-5']) {
      const bogus = await createLink(
        { id, kind: PrincipalKind.PRINCIPAL_KIND_GUEST },
        `https://example.com/bogus/${id}`,
      );
      expect(bogus.error?.code, id).toBe(status.UNAUTHENTICATED);
    }
    const kindless = await createLink(
      { id: '123456789012345678', kind: PrincipalKind.PRINCIPAL_KIND_UNSPECIFIED },
      'https://example.com/kindless',
    );
    expect(kindless.error?.code).toBe(status.UNAUTHENTICATED);
    // The id that was refused without a kind owns nothing.
    const listed = await outcome<ListLinksResponse>((callback) =>
      link.listLinks(
        {
          caller: { id: '123456789012345678', kind: PrincipalKind.PRINCIPAL_KIND_GUEST },
          pageSize: 100,
          pageToken: '',
        },
        callback,
      ),
    );
    expect(listed.error).toBeNull();
    expect(listed.response?.links).toEqual([]);
    await expectStillServing();
  });

  test('when CreateLink asks for an expiry the stores cannot hold, then INVALID_ARGUMENT on expires_at and nothing is stored', async () => {
    const issued = await issueGuest(freshIp());
    expect(issued.error).toBeNull();
    const caller = issued.response?.guest;
    for (const expiresAt of [
      new Date('9999-06-30T12:00:00Z'),
      new Date('+010000-01-01T00:00:00Z'),
      new Date(8.64e15),
    ]) {
      const refused = await outcome<CreateLinkResponse>((callback) =>
        link.createLink(
          {
            caller,
            targetUrl: `https://example.com/far/${expiresAt.getTime()}`,
            expiresAt,
            client: callerDetails('192.0.2.1'),
            alias: '',
          },
          callback,
        ),
      );
      expect(refused.error?.code, expiresAt.toISOString()).toBe(status.INVALID_ARGUMENT);
      expect(trailer(refused.error, 'error-code')).toBe('expiry_too_late');
      expect(trailer(refused.error, 'error-field')).toBe('expires_at');
    }
    // The latest expiry that is allowed is stored and read back exactly.
    const latest = new Date('9998-12-31T23:59:59.999Z');
    const kept = await outcome<CreateLinkResponse>((callback) =>
      link.createLink(
        {
          caller,
          targetUrl: 'https://example.com/far/latest',
          expiresAt: latest,
          client: callerDetails('192.0.2.1'),
          alias: '',
        },
        callback,
      ),
    );
    expect(kept.error).toBeNull();
    const listed = await outcome<ListLinksResponse>((callback) =>
      link.listLinks({ caller, pageSize: 100, pageToken: '' }, callback),
    );
    expect(listed.error).toBeNull();
    expect(listed.response?.links.map((l) => [l.targetUrl, l.expiresAt?.toISOString()])).toEqual([
      ['https://example.com/far/latest', latest.toISOString()],
    ]);
  });

  test("when GetLink or DeleteLink names another caller's link, then NOT_FOUND exactly as for a code nobody has, and the link stays", async () => {
    const owner = (await issueGuest(freshIp())).response?.guest;
    const prober = (await issueGuest(freshIp())).response?.guest;
    const made = await createLink(owner, 'https://example.com/grpc/owned');
    expect(made.error).toBeNull();
    const code = made.response?.link?.code ?? '';
    const unknown = `${code.slice(0, -1)}_`;
    const get = (caller: Principal | undefined, c: string) =>
      outcome<GetLinkResponse>((callback) => link.getLink({ caller, code: c }, callback));
    const del = (caller: Principal | undefined, c: string) =>
      outcome<DeleteLinkResponse>((callback) => link.deleteLink({ caller, code: c }, callback));
    for (const [theirs, nobodys] of [
      [await get(prober, code), await get(prober, unknown)],
      [await del(prober, code), await del(prober, unknown)],
    ]) {
      expect(theirs?.error?.code).toBe(status.NOT_FOUND);
      expect(trailer(theirs?.error ?? null, 'error-code')).toBe('link_not_found');
      expect(theirs?.error?.details).toBe(nobodys?.error?.details);
      expect(nobodys?.error?.code).toBe(status.NOT_FOUND);
    }
    const kept = await get(owner, code);
    expect(kept.error).toBeNull();
    expect(kept.response?.link).toEqual(made.response?.link);
    const resolved = await outcome<ResolveLinkResponse>((callback) =>
      link.resolveLink({ code }, callback),
    );
    expect(resolved.response?.targetUrl).toBe('https://example.com/grpc/owned');
  });

  test('when ResolveLinks gets 1025 items, then INVALID_ARGUMENT; 1024 are answered one by one', async () => {
    const items = (count: number) =>
      Array.from({ length: count }, (_, i) => ({
        code: `nope${i}`,
        client: undefined,
        head: false,
      }));
    const tooMany = await outcome<ResolveLinksResponse>((callback) =>
      link.resolveLinks({ items: items(1025) }, callback),
    );
    expect(tooMany.error?.code).toBe(status.INVALID_ARGUMENT);
    expect(trailer(tooMany.error, 'error-field')).toBe('items');

    const most = await outcome<ResolveLinksResponse>((callback) =>
      link.resolveLinks({ items: items(1024) }, callback),
    );
    expect(most.error).toBeNull();
    expect(most.response?.results).toHaveLength(1024);
    expect(
      most.response?.results.every((r) => r.status === ResolveStatus.RESOLVE_STATUS_NOT_FOUND),
    ).toBe(true);
  });

  test('when a link is resolved, one by one or in a batch, then the answer names its id and owner (what a click records)', async () => {
    const issued = await issueGuest(freshIp());
    const guest = issued.response?.guest;
    const created = await createLink(guest, `https://example.com/owned/${guest?.id}`);
    const made = created.response?.link;
    for (let round = 0; round < 2; round++) {
      // The second round is answered from the shared cache the first one filled.
      const one = await outcome<ResolveLinkResponse>((callback) =>
        link.resolveLink({ code: made?.code ?? '' }, callback),
      );
      expect(one.response).toMatchObject({ linkId: made?.id, ownerId: guest?.id });
      const many = await outcome<ResolveLinksResponse>((callback) =>
        link.resolveLinks({ items: [{ code: made?.code ?? '', head: false }] }, callback),
      );
      expect(many.response?.results[0]).toMatchObject({
        status: ResolveStatus.RESOLVE_STATUS_FOUND,
        linkId: made?.id,
        ownerId: guest?.id,
      });
    }
  });

  test('when ResolveLink gets a malformed code, then INVALID_ARGUMENT with trailer error-code invalid_code', async () => {
    for (const code of ['a.b', '', 'x'.repeat(33), 'spa ce']) {
      const answer = await outcome<ResolveLinkResponse>((callback) =>
        link.resolveLink({ code }, callback),
      );
      expect(answer.error?.code, JSON.stringify(code)).toBe(status.INVALID_ARGUMENT);
      expect(trailer(answer.error, 'error-code')).toBe('invalid_code');
    }
    const unknown = await outcome<ResolveLinkResponse>((callback) =>
      link.resolveLink({ code: 'zzzzzzz' }, callback),
    );
    expect(unknown.error?.code).toBe(status.NOT_FOUND);
  });

  test('when a client runs out of guests, then RESOURCE_EXHAUSTED with a retry-after-ms trailer', async () => {
    const ip = freshIp();
    expect((await issueGuest(ip)).error).toBeNull();
    expect((await issueGuest(ip)).error).toBeNull();
    const refused = await issueGuest(ip);
    expect(refused.error?.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(trailer(refused.error, 'error-code')).toBe('rate_limited');
    const retryAfter = trailer(refused.error, 'retry-after-ms') ?? '';
    expect(retryAfter).toMatch(/^\d+$/);
    expect(Number(retryAfter)).toBeGreaterThan(0);
    expect(Number(retryAfter)).toBeLessThanOrEqual(3_600_000);
    // Another client is not affected.
    expect((await issueGuest(freshIp())).error).toBeNull();
  });
});

describe('deadlines on calls made through connect()', () => {
  let server: Server;
  let target: string;
  const hanging: ServerUnaryCall<IssueGuestRequest, IssueGuestResponse>[] = [];
  const seen: { deadline: number; at: number }[] = [];

  beforeAll(async () => {
    server = new Server();
    server.addService(IdentityServiceService, {
      // Never answers: only the caller's deadline can end the call.
      issueGuest: (call: ServerUnaryCall<IssueGuestRequest, IssueGuestResponse>) => {
        hanging.push(call);
      },
      authenticate: (
        call: ServerUnaryCall<AuthenticateRequest, AuthenticateResponse>,
        callback: sendUnaryData<AuthenticateResponse>,
      ) => {
        const deadline = call.getDeadline();
        seen.push({
          deadline: deadline instanceof Date ? deadline.getTime() : Number(deadline),
          at: Date.now(),
        });
        callback(null, {
          principal: { id: '123456789012345678', kind: PrincipalKind.PRINCIPAL_KIND_GUEST },
        });
      },
      revokeToken: (
        _call: ServerUnaryCall<RevokeTokenRequest, RevokeTokenResponse>,
        callback: sendUnaryData<RevokeTokenResponse>,
      ) => callback(null, {}),
    });
    target = await bindLocally(server);
  });
  afterAll(() => server?.forceShutdown());

  /** A client of the hand-made server whose calls default to `deadlineMs`, closed after the test. */
  const identityClient = (deadlineMs: number) => {
    const client = connect(IdentityServiceClient, target, deadlineMs);
    onTestFinished(() => client.close());
    return client;
  };

  test('when the callee never answers, then the call fails with DEADLINE_EXCEEDED well within 2 s', async () => {
    const client = identityClient(300);
    const started = performance.now();
    const answer = await outcome<IssueGuestResponse>((callback) =>
      client.issueGuest({ client: undefined }, callback),
    );
    const elapsed = performance.now() - started;
    expect(answer.error?.code).toBe(status.DEADLINE_EXCEEDED);
    expect(elapsed).toBeLessThan(2_000);
    expect(hanging.length).toBeGreaterThan(0);

    // Through the promise wrapper the failure is a domain error of kind `deadline`.
    const wrapped = promiseClient(client, IdentityServiceService);
    const failure = await wrapped.issueGuest({ client: undefined }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(DomainError);
    expect((failure as DomainError).kind).toBe('deadline');
  });

  test('when a call carries the default deadline, then the callee sees about now + 300 ms', async () => {
    const client = identityClient(300);
    const before = Date.now();
    const answer = await outcome<AuthenticateResponse>((callback) =>
      client.authenticate({ token: 'x' }, callback),
    );
    expect(answer.error).toBeNull();
    const last = seen.at(-1);
    expect(last).toBeDefined();
    const budget = (last?.deadline ?? Number.POSITIVE_INFINITY) - before;
    expect(Number.isFinite(budget)).toBe(true);
    expect(budget).toBeGreaterThan(200);
    expect(budget).toBeLessThanOrEqual(320);
    // What is left when the handler runs is the remaining budget, not a fresh one.
    expect((last?.deadline ?? 0) - (last?.at ?? 0)).toBeLessThanOrEqual(300);
  });

  test('when the caller sets a tighter deadline, then the callee sees that one', async () => {
    const client = identityClient(5_000);
    const before = Date.now();
    const answer = await outcome<AuthenticateResponse>((callback) =>
      client.authenticate({ token: 'x' }, new Metadata(), { deadline: before + 150 }, callback),
    );
    expect(answer.error).toBeNull();
    const budget = (seen.at(-1)?.deadline ?? Number.POSITIVE_INFINITY) - before;
    expect(budget).toBeGreaterThan(50);
    expect(budget).toBeLessThanOrEqual(170);
  });
});
