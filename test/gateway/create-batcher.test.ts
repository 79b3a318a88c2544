// The gateway's creates go to the link service together: those of one turn
// of the event loop in one CreateLinks call (at most 256 items each), every
// item answered alone with its link or its own error, and a call that fails
// as a whole failing each of its items with that error. Against a link
// service of the test's own over real gRPC.
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { CreateBatcher } from '../../gateway/create-batcher.ts';
import {
  type CreateLinkRequest,
  type CreateLinksResponse_Result,
  LinkServiceClient,
  LinkServiceService,
} from '../../gen/shortener/v1/link.ts';
import { PrincipalKind } from '../../gen/shortener/v1/principal.ts';
import { isDomainError } from '../../lib/errors.ts';
import { connect, promiseClient } from '../../lib/grpc/client.ts';
import { toItemError } from '../../lib/grpc/status.ts';
import { runtimeErrors } from '../../lib/runtime-errors.ts';
import { MAX_CREATE_BATCH } from '../../lib/short-code-rules.ts';
import { type FakeLinkService, startFakeLinkService } from '../support/fake-link-service.ts';

const guest = { id: '320000000000000001', kind: PrincipalKind.PRINCIPAL_KIND_GUEST };
const request = (targetUrl: string): CreateLinkRequest => ({
  caller: guest,
  targetUrl,
  alias: '',
  expiresAt: undefined,
  client: undefined,
});

/** Each item made under a code of its URL's last path segment; `refuse` says which are rate limited. */
function answer(refuse: (url: string) => boolean) {
  return (item: CreateLinkRequest): CreateLinksResponse_Result => {
    if (item.targetUrl.includes('/down')) throw runtimeErrors.unavailable();
    if (refuse(item.targetUrl)) {
      return {
        error: toItemError(
          runtimeErrors.rate_limited({ what: 'links created' }, { retryAfterMs: 2_000 }),
        ),
      };
    }
    const code = item.targetUrl.split('/').at(-1) ?? '';
    return {
      link: {
        created: true,
        link: {
          id: '1',
          code,
          targetUrl: item.targetUrl,
          ownerId: guest.id,
          createdAt: new Date(),
          expiresAt: undefined,
          explicitExpiresAt: undefined,
          lastAccessedAt: undefined,
        },
      },
    };
  };
}

describe('coalesced link creation', () => {
  let link: FakeLinkService;
  let raw: LinkServiceClient;
  let batcher: CreateBatcher;

  beforeAll(async () => {
    link = await startFakeLinkService({ create: answer((url) => url.endsWith('/limited')) });
    raw = connect(LinkServiceClient, link.address, 5_000);
    batcher = new CreateBatcher(promiseClient(raw, LinkServiceService));
  });
  afterEach(() => {
    link.createCalls.length = 0;
  });
  afterAll(async () => {
    raw?.close();
    await link?.server.shutdown(1_000);
  });

  test('when creates arrive in one turn, then they go in one call and each gets its own answer', async () => {
    const urls = Array.from({ length: 20 }, (_, i) => `https://example.com/c${i}`);
    const answers = await Promise.all(urls.map((url) => batcher.create(request(url))));
    expect(link.createCalls).toHaveLength(1);
    expect(link.createCalls[0]?.map((item) => item.targetUrl)).toEqual(urls);
    expect(answers.map((a) => a.link?.code)).toEqual(urls.map((_, i) => `c${i}`));
  });

  test('when one item is refused, then only its create fails, with the error the link service named', async () => {
    const outcomes = await Promise.allSettled([
      batcher.create(request('https://example.com/ok1')),
      batcher.create(request('https://example.com/limited')),
      batcher.create(request('https://example.com/ok2')),
    ]);
    expect(link.createCalls).toHaveLength(1);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const refused = (outcomes[1] as PromiseRejectedResult).reason;
    expect(isDomainError(refused)).toBe(true);
    expect(refused).toMatchObject({ kind: 'exhausted', code: 'rate_limited', retryAfterMs: 2_000 });
  });

  test('when the call fails as a whole, then every create in it fails with that error', async () => {
    const outcomes = await Promise.allSettled([
      batcher.create(request('https://example.com/ok3')),
      batcher.create(request('https://example.com/down')),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
    for (const outcome of outcomes) {
      expect((outcome as PromiseRejectedResult).reason).toMatchObject({ kind: 'unavailable' });
    }
  });

  test('when more creates arrive in one turn than a call may carry, then they are split into full calls', async () => {
    const count = MAX_CREATE_BATCH * 2 + 10;
    const answers = await Promise.all(
      Array.from({ length: count }, (_, i) => batcher.create(request(`https://example.com/m${i}`))),
    );
    expect(answers).toHaveLength(count);
    expect(link.createCalls.map((items) => items.length)).toEqual([
      MAX_CREATE_BATCH,
      MAX_CREATE_BATCH,
      10,
    ]);
    expect(answers.at(-1)?.link?.code).toBe(`m${count - 1}`);
  });

  test('when the creates of one turn carry long URLs, then a call carries about a mebibyte of them, not all', async () => {
    const long = (i: number) => `https://example.com/${'x'.repeat(200_000)}/big${i}`;
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) => batcher.create(request(long(i)))),
    );
    expect(answers.map((a) => a.link?.code)).toEqual([0, 1, 2, 3, 4, 5].map((i) => `big${i}`));
    expect(link.createCalls.map((items) => items.length)).toEqual([2, 2, 2]);
  });

  test('when creates come one at a time, then each goes at once in a call of its own', async () => {
    for (let i = 0; i < 3; i++) {
      const answer = await batcher.create(request(`https://example.com/lone${i}`));
      expect(answer.link?.code).toBe(`lone${i}`);
    }
    expect(link.createCalls.map((items) => items.length)).toEqual([1, 1, 1]);
  });
});

describe('coalesced link creation against a link service without CreateLinks', () => {
  test('when the link service does not know CreateLinks (a rolling upgrade), then each create goes as a CreateLink of its own', async () => {
    const link = await startFakeLinkService({
      batchCreates: false,
      create: answer((url) => url.endsWith('/limited')),
    });
    const raw = connect(LinkServiceClient, link.address, 5_000);
    try {
      const batcher = new CreateBatcher(promiseClient(raw, LinkServiceService));
      const outcomes = await Promise.allSettled([
        batcher.create(request('https://example.com/old1')),
        batcher.create(request('https://example.com/limited')),
        batcher.create(request('https://example.com/old2')),
      ]);
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect(
        (outcomes[0] as PromiseFulfilledResult<{ link?: { code: string } }>).value.link?.code,
      ).toBe('old1');
      expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'rate_limited' });
      // One CreateLink call per create, none batched.
      expect(link.createCalls.map((items) => items.length)).toEqual([1, 1, 1]);
    } finally {
      raw.close();
      await link.server.shutdown(1_000);
    }
  });
});
