// A link belongs to whoever made it: to anyone else it is not there (404, the
// same answer as for a code nobody has), and its owner's delete is final — the
// code stops redirecting and is gone from every view of it.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type Answer, call, newGuest, shorten } from '../support/http.ts';
import { MESH_FLAVOURS, startTestMesh, type TestMesh } from '../support/mesh.ts';

/** A well-formed code no link has: generated codes are base62, never `_`. */
function unusedCode(code: string): string {
  return `${code.slice(0, -1)}_`;
}

function expectProblem(answer: Answer, status: number, code?: string): void {
  expect(answer.status).toBe(status);
  expect(answer.headers.get('content-type')).toContain('application/problem+json');
  expect(answer.body.status).toBe(status);
  expect(answer.body.type).toBe(`/problems/${answer.body.code}`);
  if (code !== undefined) expect(answer.body.code).toBe(code);
}

describe.each(MESH_FLAVOURS)('ownership of links (%s)', (flavour) => {
  let mesh: TestMesh;
  let alice: string;
  let bob: string;

  const codesOf = async (token: string): Promise<string[]> => {
    const answer = await call(mesh.url, 'GET', '/api/v1/links?pageSize=100', { token });
    expect(answer.status).toBe(200);
    return answer.body.links.map((link: { code: string }) => link.code);
  };

  beforeAll(async () => {
    mesh = await startTestMesh(flavour);
    alice = await newGuest(mesh.url);
    bob = await newGuest(mesh.url);
  });
  afterAll(() => mesh?.stop());

  test("when a guest looks up another guest's link, then 404 exactly as for a code nobody has", async () => {
    const made = await shorten(mesh.url, alice, 'https://example.com/alice/private');
    expect(made.status).toBe(201);

    const peek = await call(mesh.url, 'GET', `/api/v1/links/${made.body.code}`, { token: bob });
    expectProblem(peek, 404, 'link_not_found');
    expect(JSON.stringify(peek.body)).not.toContain('https://example.com/alice/private');
    // Nothing tells the prober the code exists: same answer as a code nobody has.
    const nobodys = await call(mesh.url, 'GET', `/api/v1/links/${unusedCode(made.body.code)}`, {
      token: bob,
    });
    expectProblem(nobodys, 404, 'link_not_found');
    expect(peek.body).toEqual(nobodys.body);

    // The owner still sees it, unchanged.
    const own = await call(mesh.url, 'GET', `/api/v1/links/${made.body.code}`, { token: alice });
    expect(own.status).toBe(200);
    expect(own.body).toEqual(made.body);
  });

  test("when a guest deletes another guest's link, then 404 as for a code nobody has, and the link is untouched", async () => {
    const made = await shorten(mesh.url, alice, 'https://example.com/alice/keep');
    expect(made.status).toBe(201);
    const code: string = made.body.code;
    // Resolved once, so it sits in every cache the delete would have to clear.
    expect((await call(mesh.url, 'GET', `/${code}`)).status).toBe(302);

    const attempt = await call(mesh.url, 'DELETE', `/api/v1/links/${code}`, { token: bob });
    expectProblem(attempt, 404, 'link_not_found');
    const nobodys = await call(mesh.url, 'DELETE', `/api/v1/links/${unusedCode(code)}`, {
      token: bob,
    });
    expectProblem(nobodys, 404, 'link_not_found');
    expect(attempt.body).toEqual(nobodys.body);

    const redirect = await call(mesh.url, 'GET', `/${code}`);
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('location')).toBe('https://example.com/alice/keep');
    const own = await call(mesh.url, 'GET', `/api/v1/links/${code}`, { token: alice });
    expect(own.status).toBe(200);
    // Untouched but for what its redirects move: its last access, and with it the idle expiry.
    const moved = ['lastAccessedAt', 'expiresAt'];
    const kept = (body: object) =>
      Object.fromEntries(Object.entries(body).filter(([key]) => !moved.includes(key)));
    expect(kept(own.body)).toEqual(kept(made.body));
    expect(Date.parse(String(own.body.expiresAt))).toBeGreaterThanOrEqual(
      Date.parse(String(made.body.expiresAt)),
    );
    expect(await codesOf(alice)).toContain(code);
    expect(await codesOf(bob)).not.toContain(code);
  });

  test('when a guest deletes their own link, then 204 and it is gone everywhere, for good', async () => {
    const kept = await shorten(mesh.url, alice, 'https://example.com/alice/stays');
    const made = await shorten(mesh.url, alice, 'https://example.com/alice/goes');
    expect(made.status).toBe(201);
    const code: string = made.body.code;
    expect((await call(mesh.url, 'GET', `/${code}`)).status).toBe(302);
    expect(await codesOf(alice)).toContain(code);

    const deleted = await call(mesh.url, 'DELETE', `/api/v1/links/${code}`, { token: alice });
    expect(deleted.status).toBe(204);
    expect(deleted.body).toBe('');

    const redirect = await call(mesh.url, 'GET', `/${code}`);
    expectProblem(redirect, 404);
    expect(redirect.headers.get('location')).toBeNull();
    const head = await call(mesh.url, 'HEAD', `/${code}`);
    expect(head.status).toBe(404);

    const lookup = await call(mesh.url, 'GET', `/api/v1/links/${code}`, { token: alice });
    expectProblem(lookup, 404);
    const again = await call(mesh.url, 'DELETE', `/api/v1/links/${code}`, { token: alice });
    expectProblem(again, 404);
    // Nor may anyone else learn that the code once existed.
    const othersLookup = await call(mesh.url, 'GET', `/api/v1/links/${code}`, { token: bob });
    expectProblem(othersLookup, 404);

    const codes = await codesOf(alice);
    expect(codes).not.toContain(code);
    expect(codes).toContain(kept.body.code);
    expect((await call(mesh.url, 'GET', `/${kept.body.code}`)).status).toBe(302);
  });

  test('when a guest shortens the URL of a link they deleted, then they get a new code, not the old one back', async () => {
    const url = 'https://example.com/alice/again';
    const first = await shorten(mesh.url, alice, url);
    expect(first.status).toBe(201);
    expect(
      (await call(mesh.url, 'DELETE', `/api/v1/links/${first.body.code}`, { token: alice })).status,
    ).toBe(204);

    const second = await shorten(mesh.url, alice, url);
    expect(second.status).toBe(201);
    expect(second.body.code).not.toBe(first.body.code);
    expect((await call(mesh.url, 'GET', `/${first.body.code}`)).status).toBe(404);
    const redirect = await call(mesh.url, 'GET', `/${second.body.code}`);
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('location')).toBe(url);
    const codes = await codesOf(alice);
    expect(codes).toContain(second.body.code);
    expect(codes).not.toContain(first.body.code);
  });
});
