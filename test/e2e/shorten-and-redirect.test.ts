// A guest shortens a URL and is redirected through the whole mesh, on MariaDB +
// Redis and on the embedded default alike.
import { beforeAll, describe, expect, test } from 'vitest';
import { call, newGuest, shorten } from '../support/http.ts';
import { MESH_FLAVOURS, meshForSuite } from '../support/mesh.ts';
import { expectProblem } from '../support/problems.ts';
import { within } from '../support/wait.ts';

describe.each(MESH_FLAVOURS)('shorten and redirect (%s)', (flavour) => {
  const mesh = meshForSuite(flavour, { RATE_LIMIT_CREATE_PER_PRINCIPAL: '1000/1m' });
  let token: string;
  beforeAll(async () => {
    // These stories create many links with one guest: room enough for all of them.
    token = await newGuest(mesh.url);
  });

  test('when a guest shortens a URL, then its 7-character code redirects there with 302 and no-store', async () => {
    const created = await shorten(mesh.url, token, 'https://example.com/docs?page=1#intro');
    expect(created.status).toBe(201);
    expect(created.body.code).toMatch(/^[0-9A-Za-z]{7}$/);
    expect(created.body.targetUrl).toBe('https://example.com/docs?page=1#intro');
    expect(created.body.shortUrl).toMatch(new RegExp(`/${created.body.code}$`));
    expect(created.body.id).toMatch(/^\d{15,19}$/);
    expect(created.headers.get('location')).toBe(`/api/v1/links/${created.body.code}`);

    const redirect = await call(mesh.url, 'GET', `/${created.body.code}`);
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('location')).toBe('https://example.com/docs?page=1#intro');
    expect(redirect.headers.get('cache-control')).toContain('no-store');

    const head = await call(mesh.url, 'HEAD', `/${created.body.code}`);
    expect(head.status).toBe(302);
    expect(head.headers.get('location')).toBe('https://example.com/docs?page=1#intro');
  });

  test('when many redirects for different codes arrive at once, then each gets its own answer', async () => {
    const codes: string[] = [];
    for (let i = 0; i < 20; i++) {
      codes.push((await shorten(mesh.url, token, `https://example.com/many/${i}`)).body.code);
    }
    const paths = [...codes, 'unknown1', ...codes.slice(0, 5)];
    const answers = await Promise.all(paths.map((code) => call(mesh.url, 'GET', `/${code}`)));
    answers.forEach((answer, i) => {
      if (paths[i] === 'unknown1') expect(answer.status).toBe(404);
      else {
        expect(answer.status).toBe(302);
        expect(answer.headers.get('location')).toBe(
          `https://example.com/many/${codes.indexOf(paths[i] as string)}`,
        );
      }
    });
  });

  test('when a code is unknown, malformed or a reserved word, then 404 as problem details', async () => {
    for (const path of ['/zzzzzzz', '/a.b', '/api', '/healthz/x', `/${'x'.repeat(40)}`]) {
      expectProblem(await call(mesh.url, 'GET', path), 404, { label: path });
    }
  });

  test('when the same guest shortens the same URL again, also 20 times at once, then it gets one link', async () => {
    const url = 'https://example.com/same/page';
    const first = await shorten(mesh.url, token, url);
    const again = await shorten(mesh.url, token, url);
    expect(first.status).toBe(201);
    expect(again.status).toBe(200);
    expect(again.body.code).toBe(first.body.code);

    const raced = 'https://example.com/raced/page';
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => shorten(mesh.url, token, raced)),
    );
    const codes = new Set(answers.map((a) => a.body.code));
    expect(codes.size).toBe(1);
    expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 200)).toHaveLength(19);
  });

  test('when another guest shortens the same URL, then they get a link of their own', async () => {
    const other = await newGuest(mesh.url);
    const mine = await shorten(mesh.url, token, 'https://example.com/shared');
    const theirs = await shorten(mesh.url, other, 'https://example.com/shared');
    expect(theirs.status).toBe(201);
    expect(theirs.body.code).not.toBe(mine.body.code);
    expect(theirs.body.ownerId).not.toBe(mine.body.ownerId);
  });

  test('when a link has an expiry date that passes, then it answers 410, cached or not', async () => {
    const expiresAt = new Date(Date.now() + 3_000).toISOString();
    const created = await shorten(mesh.url, token, 'https://example.com/soon-gone', { expiresAt });
    expect(created.status).toBe(201);
    expect(created.body.expiresAt).toBe(expiresAt);
    // Resolved once before expiry: now in every cache.
    expect((await call(mesh.url, 'GET', `/${created.body.code}`)).status).toBe(302);
    await within(
      6_000,
      async () => (await call(mesh.url, 'GET', `/${created.body.code}`)).status === 410,
    );
    const gone = await call(mesh.url, 'GET', `/${created.body.code}`);
    expectProblem(gone, 410, { code: 'link_expired' });
  });

  test('when a guest shortens a URL their expired link pointed at, then they get a fresh link', async () => {
    const url = 'https://example.com/renewed';
    const old = await shorten(mesh.url, token, url, {
      expiresAt: new Date(Date.now() + 2_500).toISOString(),
    });
    await within(
      6_000,
      async () => (await call(mesh.url, 'GET', `/${old.body.code}`)).status === 410,
    );
    const fresh = await shorten(mesh.url, token, url);
    expect(fresh.status).toBe(201);
    expect(fresh.body.code).not.toBe(old.body.code);
    expect((await call(mesh.url, 'GET', `/${fresh.body.code}`)).status).toBe(302);
    expect((await call(mesh.url, 'GET', `/${old.body.code}`)).status).toBe(410);
  });

  test('when a guest lists their links, then they page through them newest first', async () => {
    const lister = await newGuest(mesh.url);
    const made: string[] = [];
    for (let i = 0; i < 5; i++)
      made.push((await shorten(mesh.url, lister, `https://example.com/list/${i}`)).body.code);
    const first = await call(mesh.url, 'GET', '/api/v1/links?pageSize=2', { token: lister });
    expect(first.status).toBe(200);
    expect(first.body.links.map((l: { code: string }) => l.code)).toEqual([made[4], made[3]]);
    const second = await call(
      mesh.url,
      'GET',
      `/api/v1/links?pageSize=2&pageToken=${first.body.nextPageToken}`,
      { token: lister },
    );
    const third = await call(
      mesh.url,
      'GET',
      `/api/v1/links?pageSize=2&pageToken=${second.body.nextPageToken}`,
      { token: lister },
    );
    expect(second.body.links.map((l: { code: string }) => l.code)).toEqual([made[2], made[1]]);
    expect(third.body.links.map((l: { code: string }) => l.code)).toEqual([made[0]]);
    expect(third.body.nextPageToken).toBeNull();
    const one = await call(mesh.url, 'GET', `/api/v1/links/${made[0]}`, { token: lister });
    expect(one.status).toBe(200);
    expect(one.body.targetUrl).toBe('https://example.com/list/0');
  });
});
