// Members' aliases over LinkService, on each store: an alias is a code of the
// member's choosing, given to exactly one of any number of racing requests by
// the unique index, refused when malformed, reserved, taken or once taken,
// refused to guests, and kept apart from the (owner, URL) deduplication that
// generated codes have. Principals are made here as the gateway would pass them.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  type CreateLinkResponse,
  LinkServiceClient,
  LinkServiceService,
} from '../../gen/shortener/v1/link.ts';
import { type Principal, PrincipalKind } from '../../gen/shortener/v1/principal.ts';
import { isDomainError } from '../../lib/errors.ts';
import { connect, promiseClient } from '../../lib/grpc/client.ts';
import { MESH_FLAVOURS, meshForSuite } from '../support/mesh.ts';

let nextPrincipal = 300_000_000_000_000_000n;
const principal = (kind: PrincipalKind): Principal => ({ id: String(nextPrincipal++), kind });
const aMember = () => principal(PrincipalKind.PRINCIPAL_KIND_MEMBER);
const aGuest = () => principal(PrincipalKind.PRINCIPAL_KIND_GUEST);

let nextAlias = 0;
/** An alias no other story of this run asks for. */
const freshAlias = (stem = 'alias') => `${stem}-${process.pid}-${++nextAlias}`;

const REFUSED_ALIASES: { alias: string; kind: string; code: string }[] = [
  { alias: 'ab', kind: 'invalid', code: 'invalid_alias' },
  { alias: 'a'.repeat(33), kind: 'invalid', code: 'invalid_alias' },
  { alias: 'has space', kind: 'invalid', code: 'invalid_alias' },
  { alias: 'dot.ted', kind: 'invalid', code: 'invalid_alias' },
  { alias: 'slash/ed', kind: 'invalid', code: 'invalid_alias' },
  { alias: 'ünïcode', kind: 'invalid', code: 'invalid_alias' },
  { alias: 'percent%41', kind: 'invalid', code: 'invalid_alias' },
  { alias: 'api', kind: 'invalid', code: 'alias_reserved' },
  { alias: 'API', kind: 'invalid', code: 'alias_reserved' },
  { alias: 'healthz', kind: 'invalid', code: 'alias_reserved' },
  { alias: 'ReadyZ', kind: 'invalid', code: 'alias_reserved' },
  { alias: 'docs', kind: 'invalid', code: 'alias_reserved' },
  { alias: 'openapi', kind: 'invalid', code: 'alias_reserved' },
  { alias: 'reset-password', kind: 'invalid', code: 'alias_reserved' },
  { alias: 'verify-email', kind: 'invalid', code: 'alias_reserved' },
];

describe.each(MESH_FLAVOURS)('aliases over LinkService (%s)', (flavour) => {
  const mesh = meshForSuite(flavour, {
    RATE_LIMIT_CREATE_PER_PRINCIPAL: '10000/1m',
    RATE_LIMIT_CREATE_PER_IP: '10000/1m',
  });
  let connection: LinkServiceClient;
  let links: ReturnType<typeof promiseClient<typeof LinkServiceService>>;

  beforeAll(() => {
    connection = connect(LinkServiceClient, mesh.mesh.link.address, 5_000);
    links = promiseClient(connection, LinkServiceService);
  });
  afterAll(() => connection?.close());

  const create = (caller: Principal, targetUrl: string, alias = '', expiresAt?: Date) =>
    links.createLink({ caller, targetUrl, alias, expiresAt, client: undefined });

  /** The error a call failed with, or a failure of the test if it succeeded. */
  const refusal = async (call: Promise<unknown>) => {
    const outcome = await call.then(
      (response) => ({ response }),
      (error: unknown) => ({ error }),
    );
    if (!('error' in outcome))
      throw new Error(`expected a refusal, got ${JSON.stringify(outcome)}`);
    if (!isDomainError(outcome.error)) throw outcome.error;
    return outcome.error;
  };

  const ownCodes = async (caller: Principal) =>
    (await links.listLinks({ caller, pageSize: 100, pageToken: '' })).links.map((l) => l.code);

  test('when a member asks for an alias, then the link has it as its code and it resolves', async () => {
    const member = aMember();
    const alias = freshAlias('Spring_Sale');
    const { link, created } = await create(member, 'https://example.com/spring', alias);
    expect(created).toBe(true);
    expect(link?.code).toBe(alias);
    expect(link?.ownerId).toBe(member.id);
    const resolved = await links.resolveLink({ code: alias });
    expect(resolved).toMatchObject({ linkId: link?.id, targetUrl: 'https://example.com/spring' });
    const batch = await links.resolveLinks({
      items: [{ code: alias, client: undefined, head: false }],
    });
    expect(batch.results[0]).toMatchObject({ linkId: link?.id, ownerId: member.id });
  });

  test('when two members race for one alias, then exactly one gets it and the other hears alias_taken', async () => {
    for (let round = 0; round < 10; round++) {
      const alias = freshAlias('race');
      const racers = [aMember(), aMember(), aMember(), aMember()];
      const outcomes = await Promise.allSettled(
        racers.map((racer, i) => create(racer, `https://example.com/race/${i}`, alias)),
      );
      const won = outcomes.filter(
        (o): o is PromiseFulfilledResult<CreateLinkResponse> => o.status === 'fulfilled',
      );
      const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(won[0]?.value.created).toBe(true);
      expect(lost).toHaveLength(racers.length - 1);
      for (const loss of lost)
        expect(loss.reason).toMatchObject({ kind: 'conflict', code: 'alias_taken' });
      // The winner's link is the one the alias resolves to.
      const resolved = await links.resolveLink({ code: alias });
      expect(resolved.linkId).toBe(won[0]?.value.link?.id);
    }
  });

  test('when aliases differ only in case, then they are two links, each resolving to its own target', async () => {
    const stem = freshAlias('Launch');
    const upper = await create(aMember(), 'https://example.com/upper', stem.toUpperCase());
    const lower = await create(aMember(), 'https://example.com/lower', stem.toLowerCase());
    expect([upper.created, lower.created]).toEqual([true, true]);
    expect((await links.resolveLink({ code: stem.toUpperCase() })).targetUrl).toBe(
      'https://example.com/upper',
    );
    expect((await links.resolveLink({ code: stem.toLowerCase() })).targetUrl).toBe(
      'https://example.com/lower',
    );
  });

  test.each(REFUSED_ALIASES)(
    'when a member asks for the alias "$alias", then $code and nothing is stored',
    async ({ alias, kind, code }) => {
      const member = aMember();
      const error = await refusal(create(member, 'https://example.com/refused', alias));
      expect(error).toMatchObject({ kind, code, field: 'alias' });
      expect(await ownCodes(member)).toEqual([]);
    },
  );

  test('when a guest asks for an alias, then PERMISSION_DENIED alias_members_only and nothing is stored, also for a malformed alias', async () => {
    const guest = aGuest();
    for (const alias of [freshAlias('guest'), 'x']) {
      const error = await refusal(create(guest, 'https://example.com/guest', alias));
      expect(error).toMatchObject({ kind: 'forbidden', code: 'alias_members_only' });
    }
    expect(await ownCodes(guest)).toEqual([]);
    // The same guest shortens without an alias as ever.
    expect((await create(guest, 'https://example.com/guest')).created).toBe(true);
  });

  test('when an alias was deleted, then nobody gets it again: alias_retired, and it does not resolve', async () => {
    const owner = aMember();
    const alias = freshAlias('gone');
    await create(owner, 'https://example.com/gone', alias);
    await links.deleteLink({ caller: owner, code: alias });
    for (const caller of [owner, aMember()]) {
      const error = await refusal(create(caller, 'https://example.com/gone', alias));
      expect(error).toMatchObject({ kind: 'conflict', code: 'alias_retired' });
    }
    const resolved = await refusal(links.resolveLink({ code: alias }));
    expect(resolved).toMatchObject({ kind: 'not_found', code: 'link_not_found' });
  });

  test('when the alias is a code already generated for another link, then alias_taken', async () => {
    const generated = await create(aMember(), 'https://example.com/generated');
    const error = await refusal(
      create(aMember(), 'https://example.com/other', generated.link?.code ?? ''),
    );
    expect(error).toMatchObject({ kind: 'conflict', code: 'alias_taken' });
  });

  test('when a member shortens one URL with and without an alias, then two links; without one again, the same generated link', async () => {
    const member = aMember();
    const url = `https://example.com/both/${freshAlias()}`;
    const plain = await create(member, url);
    const aliased = await create(member, url, freshAlias('both'));
    expect([plain.created, aliased.created]).toEqual([true, true]);
    expect(aliased.link?.id).not.toBe(plain.link?.id);
    const again = await create(member, url);
    expect(again.created).toBe(false);
    expect(again.link?.id).toBe(plain.link?.id);
    expect((await ownCodes(member)).sort()).toEqual([plain.link?.code, aliased.link?.code].sort());
  });

  test('when a member first shortens a URL under an alias, then a request without one still makes a generated link, once', async () => {
    const member = aMember();
    const url = `https://example.com/alias-first/${freshAlias()}`;
    const aliased = await create(member, url, freshAlias('first'));
    const plain = await create(member, url);
    const again = await create(member, url);
    expect([aliased.created, plain.created, again.created]).toEqual([true, true, false]);
    expect(plain.link?.code).not.toBe(aliased.link?.code);
    expect(again.link?.id).toBe(plain.link?.id);
  });

  test('when a URL is shortened again asking for an expiry its link lacks, then a link of its own; asking for nothing it lacks, the same link', async () => {
    const guest = aGuest();
    const url = `https://example.com/expiry-asked/${freshAlias()}`;
    const soon = new Date(Date.now() + 86_400_000);
    const later = new Date(Date.now() + 2 * 86_400_000);
    const plain = await create(guest, url);
    const dated = await create(guest, url, '', soon);
    expect([plain.created, dated.created]).toEqual([true, true]);
    expect(dated.link?.code).not.toBe(plain.link?.code);
    expect(dated.link?.expiresAt?.getTime()).toBe(soon.getTime());
    // Without an expiry the request lacks nothing the URL's link has.
    const again = await create(guest, url);
    expect([again.created, again.link?.id]).toEqual([false, plain.link?.id]);
    // The URL's link has a date: the same date asks for nothing new, another date does.
    const other = `https://example.com/expiry-dated/${freshAlias()}`;
    const first = await create(guest, other, '', soon);
    const same = await create(guest, other, '', soon);
    const different = await create(guest, other, '', later);
    expect([first.created, same.created, different.created]).toEqual([true, false, true]);
    expect(same.link?.id).toBe(first.link?.id);
    expect(different.link?.expiresAt?.getTime()).toBe(later.getTime());
  });

  test('when a member shortens one URL under two aliases, then two links', async () => {
    const member = aMember();
    const url = `https://example.com/two-aliases/${freshAlias()}`;
    const first = await create(member, url, freshAlias('one'));
    const second = await create(member, url, freshAlias('two'));
    expect([first.created, second.created]).toEqual([true, true]);
    expect(second.link?.id).not.toBe(first.link?.id);
  });

  test('when a member repeats the same aliased request, then the same link back (created = false); asking it for something else is alias_taken', async () => {
    const member = aMember();
    const alias = freshAlias('retry');
    const expiresAt = new Date(Date.now() + 86_400_000);
    const first = await create(member, 'https://example.com/retry', alias, expiresAt);
    const retried = await create(member, 'https://example.com/retry', alias, expiresAt);
    expect(first.created).toBe(true);
    expect(retried.created).toBe(false);
    expect(retried.link?.id).toBe(first.link?.id);
    const others = [
      () => create(member, 'https://example.com/elsewhere', alias, expiresAt),
      () => create(member, 'https://example.com/retry', alias),
      () => create(aMember(), 'https://example.com/retry', alias, expiresAt),
    ];
    for (const other of others) {
      expect(await refusal(other())).toMatchObject({ kind: 'conflict', code: 'alias_taken' });
    }
  });

  test('when the same member races itself for one alias and one URL, then one link, created once', async () => {
    const member = aMember();
    const alias = freshAlias('self');
    const outcomes = await Promise.all(
      Array.from({ length: 6 }, () => create(member, 'https://example.com/self', alias)),
    );
    expect(outcomes.filter((o) => o.created)).toHaveLength(1);
    expect(new Set(outcomes.map((o) => o.link?.id)).size).toBe(1);
  });
});
