// Members' aliases through the gateway: a member shortens under a code of
// their choosing, it redirects like any code (near cache, ResolveLinks and
// all) until it is deleted or expires, and every refusal is a problem with its
// own code: 400 for an alias that is malformed or a path of the gateway, 403
// for a guest, 409 for an alias that is taken or was once.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Orm } from '../../lib/db/open.ts';
import { isReserved } from '../../lib/short-code-rules.ts';
import { call, linksOf, newGuest, shorten } from '../support/http.ts';
import { identityDatabaseOf, newMember } from '../support/members.ts';
import { MESH_FLAVOURS, meshForSuite } from '../support/mesh.ts';
import { expectProblem } from '../support/problems.ts';
import { sleep, within } from '../support/wait.ts';

let nextAlias = 0;
/** An alias no other story of this run asks for. */
const freshAlias = (stem = 'alias') => `${stem}-${process.pid}-${++nextAlias}`;

describe.each(MESH_FLAVOURS)('aliases through the gateway (%s)', (flavour) => {
  const mesh = meshForSuite(flavour, {
    RATE_LIMIT_GUESTS_PER_IP: '1000/1h',
    RATE_LIMIT_CREATE_PER_IP: '10000/1m',
  });
  let identity: Orm;
  let member: string;

  beforeAll(async () => {
    identity = await identityDatabaseOf(mesh);
    member = await newMember(mesh, identity);
  });
  afterAll(() => identity?.close());

  const redirect = (code: string) => call(mesh.url, 'GET', `/${code}`);

  test('when a member shortens under an alias, then 201 with it as the code, and GET /<alias> redirects, also from the near cache, until it is deleted', async () => {
    const alias = freshAlias('Summer_Sale');
    const created = await shorten(mesh.url, member, 'https://example.com/summer', { alias });
    expect(created.status).toBe(201);
    expect(created.body.code).toBe(alias);
    expect(created.body.shortUrl.endsWith(`/${alias}`)).toBe(true);
    expect(created.headers.get('location')).toBe(`/api/v1/links/${alias}`);
    for (let i = 0; i < 3; i++) {
      const followed = await redirect(alias);
      expect(followed.status).toBe(302);
      expect(followed.headers.get('location')).toBe('https://example.com/summer');
    }
    const head = await call(mesh.url, 'HEAD', `/${alias}`);
    expect(head.status).toBe(302);
    const near = mesh.mesh.gateway.near;
    await within(5_000, async () => near.live);
    expect((await redirect(alias)).status).toBe(302);
    expect(near.get(alias)?.targetUrl).toBe('https://example.com/summer');

    const deleted = await call(mesh.url, 'DELETE', `/api/v1/links/${alias}`, { token: member });
    expect(deleted.status).toBe(204);
    expect(near.get(alias)).toBeUndefined();
    expectProblem(await redirect(alias), 404, { code: 'link_not_found' });
    const again = await shorten(mesh.url, member, 'https://example.com/summer', { alias });
    expectProblem(again, 409, { code: 'alias_retired' });
    expectProblem(await redirect(alias), 404, { code: 'link_not_found' });
  });

  test('when GET /<alias> was answered 404 before the alias was taken, then it redirects at once after', async () => {
    const alias = freshAlias('soon');
    expectProblem(await redirect(alias), 404, { code: 'link_not_found' });
    const created = await shorten(mesh.url, member, 'https://example.com/soon', { alias });
    expect(created.status).toBe(201);
    const followed = await redirect(alias);
    expect(followed.status).toBe(302);
    expect(followed.headers.get('location')).toBe('https://example.com/soon');
  });

  test('when an aliased link reaches its expiry, then GET /<alias> answers 410 as for any code', async () => {
    const alias = freshAlias('brief');
    const expiresAt = new Date(Date.now() + 1_500).toISOString();
    const created = await shorten(mesh.url, member, 'https://example.com/brief', {
      alias,
      expiresAt,
    });
    expect(created.status).toBe(201);
    expect((await redirect(alias)).status).toBe(302);
    await sleep(1_700);
    expectProblem(await redirect(alias), 410, { code: 'link_expired' });
  });

  test('when two members race for one alias, then exactly one 201 and one 409 alias_taken', async () => {
    const rival = await newMember(mesh, identity);
    for (let round = 0; round < 5; round++) {
      const alias = freshAlias('race');
      const [a, b] = await Promise.all([
        shorten(mesh.url, member, 'https://example.com/race/a', { alias }),
        shorten(mesh.url, rival, 'https://example.com/race/b', { alias }),
      ]);
      const answers = [a, b].sort((x, y) => x.status - y.status);
      expect(answers.map((answer) => answer.status)).toEqual([201, 409]);
      expectProblem(answers[1] as typeof a, 409, { code: 'alias_taken' });
      const followed = await redirect(alias);
      expect(followed.headers.get('location')).toBe(answers[0]?.body.targetUrl);
    }
  });

  test.each([
    { alias: 'ab', code: 'invalid_alias' },
    { alias: 'x'.repeat(33), code: 'invalid_alias' },
    { alias: 'two words', code: 'invalid_alias' },
    { alias: 'a.b.c', code: 'invalid_alias' },
    { alias: 'emoji-🙂', code: 'invalid_alias' },
    { alias: 'Api', code: 'alias_reserved' },
    { alias: 'readyz', code: 'alias_reserved' },
    { alias: 'reset-password', code: 'alias_reserved' },
  ])(
    'when a member asks for the alias "$alias", then 400 $code on the field alias and nothing is stored',
    async ({ alias, code }) => {
      const before = await linksOf(mesh.url, member);
      const refused = await shorten(mesh.url, member, 'https://example.com/refused', { alias });
      expectProblem(refused, 400, { code, field: 'alias' });
      expect(await linksOf(mesh.url, member)).toEqual(before);
    },
  );

  test('when the alias is empty, then 400 on the field alias', async () => {
    const refused = await shorten(mesh.url, member, 'https://example.com/empty', { alias: '' });
    expectProblem(refused, 400, { field: 'alias' });
  });

  test('when an alias is another member’s generated code, then 409 alias_taken', async () => {
    const generated = await shorten(mesh.url, await newGuest(mesh.url), 'https://example.com/gen');
    expect(generated.status).toBe(201);
    const refused = await shorten(mesh.url, member, 'https://example.com/mine', {
      alias: generated.body.code,
    });
    expectProblem(refused, 409, { code: 'alias_taken' });
  });

  test('every first path segment the gateway routes is refused as an alias', async () => {
    const document = await call(mesh.url, 'GET', '/api/v1/openapi.json');
    const segments = new Set(
      Object.keys(document.body.paths)
        .map((path) => path.split('/')[1] ?? '')
        .filter((segment) => segment !== '' && !segment.startsWith('{')),
    );
    expect(segments).toContain('api');
    for (const segment of segments) {
      expect(isReserved(segment), segment).toBe(true);
      const refused = await shorten(mesh.url, member, 'https://example.com/route', {
        alias: segment,
      });
      expectProblem(refused, 400, { field: 'alias', label: segment });
    }
  });

  test('the OpenAPI document describes the alias and the answers refusing one', async () => {
    const document = await call(mesh.url, 'GET', '/api/v1/openapi.json');
    const create = document.body.paths['/api/v1/links']?.post as {
      requestBody: { content: Record<string, { schema: { properties: Record<string, unknown> } }> };
      responses: Record<string, unknown>;
    };
    const body = create.requestBody.content['application/json']?.schema;
    expect(body?.properties.alias).toMatchObject({ type: 'string', maxLength: 64 });
    expect(Object.keys(create.responses)).toEqual(
      expect.arrayContaining(['200', '201', '400', '401', '403', '409', '429']),
    );
  });

  test('when a guest asks for an alias, then 403 alias_members_only and nothing is stored', async () => {
    const guest = await newGuest(mesh.url);
    for (const alias of [freshAlias('guest'), '!']) {
      const refused = await shorten(mesh.url, guest, 'https://example.com/guest', { alias });
      expectProblem(refused, 403, { code: 'alias_members_only' });
    }
    expect(await linksOf(mesh.url, guest)).toEqual([]);
  });

  test('when a member shortens a URL with and without an alias, then two links; without one twice, one link', async () => {
    const url = `https://example.com/twice/${freshAlias()}`;
    const plain = await shorten(mesh.url, member, url);
    const aliased = await shorten(mesh.url, member, url, { alias: freshAlias('twice') });
    const plainAgain = await shorten(mesh.url, member, url);
    expect([plain.status, aliased.status, plainAgain.status]).toEqual([201, 201, 200]);
    expect(aliased.body.id).not.toBe(plain.body.id);
    expect(plainAgain.body.id).toBe(plain.body.id);
    const mine = (await linksOf(mesh.url, member)).filter((link) => link.targetUrl === url);
    expect(mine.map((link) => link.id).sort()).toEqual([plain.body.id, aliased.body.id].sort());
  });

  test('when a member repeats an aliased request, then 200 with the same link', async () => {
    const alias = freshAlias('again');
    const first = await shorten(mesh.url, member, 'https://example.com/again', { alias });
    const second = await shorten(mesh.url, member, 'https://example.com/again', { alias });
    expect([first.status, second.status]).toEqual([201, 200]);
    expect(second.body).toEqual(first.body);
  });
});
