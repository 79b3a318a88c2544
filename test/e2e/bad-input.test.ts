// Bad input at the HTTP edge: every malformed, hostile or unauthenticated
// request gets the right problem details and changes nothing — the caller's
// links stay as they were and the mesh keeps redirecting.
import { beforeAll, describe, expect, test } from 'vitest';
import { type Answer, call, linksOf, newGuest, shorten } from '../support/http.ts';
import { MESH_FLAVOURS, meshForSuite } from '../support/mesh.ts';
import { expectProblem } from '../support/problems.ts';

interface BadRequest {
  story: string;
  send: (url: string, token: string) => Promise<Answer>;
  status: number;
  /** The problem's code, when the requirement fixes one. */
  code?: string;
  /** The problem's field, when the requirement fixes one. */
  field?: string;
}

const json = { 'content-type': 'application/json' };

const post = (url: string, token: string, body: unknown) =>
  call(url, 'POST', '/api/v1/links', { token, json: body });

const rawPost = (
  url: string,
  token: string,
  body: string,
  headers: Record<string, string> = json,
) => call(url, 'POST', '/api/v1/links', { token, body, headers });

/** A token of the issued shape (smt_ + 43 base64url characters) that was never issued. */
const FORGED_TOKEN = `smt_${'A'.repeat(20)}${'b'.repeat(20)}_-9`;

const BAD_REQUESTS: BadRequest[] = [
  {
    story: 'a javascript: URL',
    send: (url, token) => shorten(url, token, 'javascript:alert(1)'),
    status: 400,
    code: 'unsupported_scheme',
    field: 'targetUrl',
  },
  {
    story: 'a data: URL',
    send: (url, token) => shorten(url, token, 'data:text/html,<script>alert(1)</script>'),
    status: 400,
    code: 'unsupported_scheme',
    field: 'targetUrl',
  },
  {
    story: 'an ftp: URL',
    send: (url, token) => shorten(url, token, 'ftp://ftp.example.com/file.txt'),
    status: 400,
    code: 'unsupported_scheme',
    field: 'targetUrl',
  },
  {
    story: 'a 10 MB JSON body',
    send: (url, token) =>
      rawPost(
        url,
        token,
        JSON.stringify({ targetUrl: `https://example.com/${'a'.repeat(10 * 1024 * 1024)}` }),
      ),
    status: 413,
    code: 'payload_too_large',
  },
  {
    story: 'malformed JSON',
    send: (url, token) => rawPost(url, token, '{"targetUrl": "https://example.com/",'),
    status: 400,
  },
  {
    story: 'a 5,000-character https URL',
    send: (url, token) => shorten(url, token, `https://example.com/${'p'.repeat(5_000 - 20)}`),
    status: 400,
    code: 'url_too_long',
    field: 'targetUrl',
  },
  {
    story: 'a URL with user:password@',
    send: (url, token) => shorten(url, token, 'https://user:password@example.com/secret'),
    status: 400,
    code: 'url_has_credentials',
    field: 'targetUrl',
  },
  ...['http://127.0.0.1/', 'http://10.0.0.1/', 'http://localhost/', 'http://[::1]/'].map(
    (target): BadRequest => ({
      story: `a private target ${target}`,
      send: (url, token) => shorten(url, token, target),
      status: 400,
      code: 'private_target',
      field: 'targetUrl',
    }),
  ),
  {
    story: 'a URL with a newline inside',
    send: (url, token) => shorten(url, token, 'https://example.com/a\nb'),
    status: 400,
    field: 'targetUrl',
  },
  {
    story: 'a URL with a space inside',
    send: (url, token) => shorten(url, token, 'https://example.com/a b'),
    status: 400,
    field: 'targetUrl',
  },
  {
    story: 'an unknown JSON field',
    send: (url, token) => post(url, token, { targetUrl: 'https://example.com/x', colour: 'red' }),
    status: 400,
  },
  {
    story: 'no targetUrl',
    send: (url, token) => post(url, token, { expiresAt: new Date(Date.now() + 86_400_000) }),
    status: 400,
    field: 'targetUrl',
  },
  {
    story: 'an expiresAt in the past',
    send: (url, token) =>
      shorten(url, token, 'https://example.com/past', {
        expiresAt: new Date(Date.now() - 60_000).toISOString(),
      }),
    status: 400,
    code: 'expiry_in_past',
    field: 'expiresAt',
  },
  ...[
    ['in the year 9999', '9999-12-31T23:59:59.999Z'],
    ['in the year 9999, early on', '9999-01-01T00:00:00Z'],
    ['whose offset pushes it past the year 9999', '9999-12-31T23:00:00-05:00'],
    ['whose offset pushes it into the year 9999', '9998-12-31T23:30:00-01:00'],
  ].map(
    ([when, expiresAt]): BadRequest => ({
      story: `an expiresAt ${when}`,
      send: (url, token) =>
        shorten(url, token, `https://example.com/late/${expiresAt}`, { expiresAt }),
      status: 400,
      code: 'expiry_too_late',
      field: 'expiresAt',
    }),
  ),
  {
    story: 'an expiresAt that is not a date',
    send: (url, token) =>
      shorten(url, token, 'https://example.com/when', { expiresAt: 'next tuesday' }),
    status: 400,
  },
  {
    story: 'a text/plain body',
    send: (url, token) =>
      rawPost(url, token, JSON.stringify({ targetUrl: 'https://example.com/plain' }), {
        'content-type': 'text/plain',
      }),
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    story: 'a form-encoded body',
    send: (url, token) =>
      rawPost(url, token, 'targetUrl=https%3A%2F%2Fexample.com%2Fform', {
        'content-type': 'application/x-www-form-urlencoded',
      }),
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    story: 'a 20 KB header',
    send: (url, token) =>
      call(url, 'POST', '/api/v1/links', {
        token,
        json: { targetUrl: 'https://example.com/big-header' },
        headers: { 'x-padding': 'p'.repeat(20 * 1024) },
      }),
    status: 431,
  },
  {
    story: 'an unknown route',
    send: (url, token) => call(url, 'GET', '/api/v1/nothing/here', { token }),
    status: 404,
  },
  {
    story: 'a POST to an unknown route',
    send: (url, token) => call(url, 'POST', '/api/v2/links', { token, json: {} }),
    status: 404,
  },
  {
    story: 'pageSize=0',
    send: (url, token) => call(url, 'GET', '/api/v1/links?pageSize=0', { token }),
    status: 400,
  },
  {
    story: 'pageSize=1000',
    send: (url, token) => call(url, 'GET', '/api/v1/links?pageSize=1000', { token }),
    status: 400,
  },
  {
    story: 'a malformed pageToken',
    send: (url, token) =>
      call(url, 'GET', '/api/v1/links?pageToken=%21%21not-a-token%21%21', { token }),
    status: 400,
  },
  {
    story: 'a pageToken that decodes to something other than an id',
    send: (url, token) =>
      call(url, 'GET', `/api/v1/links?pageToken=${Buffer.from('hello').toString('base64url')}`, {
        token,
      }),
    status: 400,
  },
];

const UNAUTHENTICATED: BadRequest[] = [
  {
    story: 'no Authorization header',
    send: (url) =>
      call(url, 'POST', '/api/v1/links', { json: { targetUrl: 'https://example.com/anon' } }),
    status: 401,
  },
  {
    story: 'a forged token of the right shape',
    send: (url) => shorten(url, FORGED_TOKEN, 'https://example.com/forged'),
    status: 401,
  },
  {
    story: 'a garbage token',
    send: (url) => shorten(url, 'not a token at all', 'https://example.com/garbage'),
    status: 401,
  },
  {
    story: 'a garbage token of a plausible length',
    send: (url) => shorten(url, `${'x'.repeat(47)}`, 'https://example.com/garbage2'),
    status: 401,
  },
];

describe.each(MESH_FLAVOURS)('bad input changes nothing (%s)', (flavour) => {
  const mesh = meshForSuite(flavour);
  let token: string;
  let known: { code: string; targetUrl: string };
  let before: unknown[];

  /**
   * The caller's links are exactly as before, and the known link still
   * redirects. (Its last access, and the idle expiry counted from it, follow
   * those redirects: they are the one thing allowed to move.)
   */
  const withoutUse = (links: unknown[]) =>
    (links as Record<string, unknown>[]).map(({ lastAccessedAt, expiresAt, ...rest }) => rest);
  const expectNothingChanged = async () => {
    expect(withoutUse(await linksOf(mesh.url, token))).toEqual(withoutUse(before));
    const redirect = await call(mesh.url, 'GET', `/${known.code}`);
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('location')).toBe(known.targetUrl);
  };

  beforeAll(async () => {
    token = await newGuest(mesh.url);
    const created = await shorten(mesh.url, token, 'https://example.com/known/link');
    expect(created.status).toBe(201);
    known = { code: created.body.code, targetUrl: created.body.targetUrl };
    before = await linksOf(mesh.url, token);
    expect(before).toHaveLength(1);
  });

  test.each(BAD_REQUESTS)(
    'when a guest sends $story, then $status and nothing changes',
    async (bad) => {
      const answer = await bad.send(mesh.url, token);
      expectProblem(answer, bad.status, { code: bad.code, field: bad.field });
      await expectNothingChanged();
    },
  );

  test.each(UNAUTHENTICATED)(
    'when a caller sends $story, then 401 with WWW-Authenticate: Bearer and nothing changes',
    async (bad) => {
      const answer = await bad.send(mesh.url, token);
      expectProblem(answer, 401);
      expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
      await expectNothingChanged();
    },
  );

  test('when a guest sets the latest expiry allowed, then 201 and their listing shows it exactly', async () => {
    const other = await newGuest(mesh.url);
    const expiresAt = '9998-12-31T23:59:59.999Z';
    const made = await shorten(mesh.url, other, 'https://example.com/latest', { expiresAt });
    expect(made.status).toBe(201);
    // What applies is the idle expiry, long before; the explicit one is kept exactly.
    expect(made.body.explicitExpiresAt).toBe(expiresAt);
    expect(Date.parse(made.body.expiresAt as string)).toBeLessThan(Date.parse(expiresAt));
    const listed = await linksOf(mesh.url, other);
    expect(listed).toEqual([made.body]);
    await expectNothingChanged();
  });

  test('when a guest revokes their token, then it is refused with 401 while a fresh guest still works', async () => {
    const leaving = await newGuest(mesh.url);
    const made = await shorten(mesh.url, leaving, 'https://example.com/before-revoke');
    expect(made.status).toBe(201);

    const revoked = await call(mesh.url, 'DELETE', '/api/v1/sessions/current', { token: leaving });
    expect(revoked.status).toBe(204);

    const refused = await shorten(mesh.url, leaving, 'https://example.com/after-revoke');
    expectProblem(refused, 401);
    expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
    const listRefused = await call(mesh.url, 'GET', '/api/v1/links', { token: leaving });
    expectProblem(listRefused, 401);
    const revokeAgain = await call(mesh.url, 'DELETE', '/api/v1/sessions/current', {
      token: leaving,
    });
    expectProblem(revokeAgain, 401);

    // The revoked guest's link keeps redirecting: revoking a token deletes nothing.
    const redirect = await call(mesh.url, 'GET', `/${made.body.code}`);
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('location')).toBe('https://example.com/before-revoke');

    const fresh = await newGuest(mesh.url);
    const created = await shorten(mesh.url, fresh, 'https://example.com/after-revoke');
    expect(created.status).toBe(201);
    expect(await linksOf(mesh.url, fresh)).toHaveLength(1);
    await expectNothingChanged();
  });
});
