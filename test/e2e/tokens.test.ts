// A guest's token is long-lived but not eternal: once it expires it no longer
// authenticates, and nothing it could still do is let through.
import { describe, expect, test } from 'vitest';
import { call, newGuest, shorten } from '../support/http.ts';
import { MESH_FLAVOURS, meshForSuite } from '../support/mesh.ts';
import { expectProblem } from '../support/problems.ts';
import { within } from '../support/wait.ts';

describe.each(MESH_FLAVOURS)('guest tokens with a 1 s lifetime (%s)', (flavour) => {
  const mesh = meshForSuite(flavour, { GUEST_TOKEN_TTL: '1s' });

  test('when a guest token has expired, then it gets 401 invalid_token and creates nothing', async () => {
    const token = await newGuest(mesh.url);
    const before = await shorten(mesh.url, token, 'https://example.com/while-valid');
    expect(before.status).toBe(201);

    await within(
      3_000,
      async () => (await call(mesh.url, 'GET', '/api/v1/links', { token })).status === 401,
    );
    const refused = await shorten(mesh.url, token, 'https://example.com/after-expiry');
    expectProblem(refused, 401, { code: 'invalid_token' });
    expect(refused.headers.get('www-authenticate')).toContain('Bearer');

    // The link made while the token was valid still redirects; a new guest still works.
    expect((await call(mesh.url, 'GET', `/${before.body.code}`)).status).toBe(302);
    const fresh = await newGuest(mesh.url);
    expect((await shorten(mesh.url, fresh, 'https://example.com/after-expiry')).status).toBe(201);
  });
});
