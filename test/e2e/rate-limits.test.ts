// Rate limits hold exactly under concurrency, per caller and per client, and
// answer 429 with a retry delay. The client is the socket's address unless a
// configured number of trusted proxies stands in front.
import { describe, expect, test } from 'vitest';
import { type Answer, call, linksOf, newGuest, shorten } from '../support/http.ts';
import { MESH_FLAVOURS, meshForSuite } from '../support/mesh.ts';
import { expectProblem } from '../support/problems.ts';

function expectRateLimited(answer: Answer): void {
  expectProblem(answer, 429, { code: 'rate_limited' });
  const retryAfter = answer.headers.get('retry-after') ?? '';
  expect(retryAfter).toMatch(/^\d+$/);
  expect(Number(retryAfter)).toBeGreaterThan(0);
  expect(answer.body.retryAfterSeconds).toBe(Number(retryAfter));
}

async function linkCount(url: string, token: string): Promise<number> {
  return (await linksOf(url, token)).length;
}

const guest = (url: string, headers: Record<string, string> = {}) =>
  call(url, 'POST', '/api/v1/guests', { headers });

describe.each(MESH_FLAVOURS)('creates per caller: 10/1h (%s)', (flavour) => {
  const mesh = meshForSuite(flavour, { RATE_LIMIT_CREATE_PER_PRINCIPAL: '10/1h' });

  test('when one guest sends 200 creates at once, then exactly 10 are created and 190 get 429 with Retry-After', async () => {
    const token = await newGuest(mesh.url);
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        shorten(mesh.url, token, `https://example.com/burst/${i}`),
      ),
    );
    const created = answers.filter((a) => a.status === 201);
    const limited = answers.filter((a) => a.status === 429);
    expect(created).toHaveLength(10);
    expect(limited).toHaveLength(190);
    for (const answer of limited) expectRateLimited(answer);

    expect(await linkCount(mesh.url, token)).toBe(10);
    // Every link that was answered 201 redirects; nothing else was stored.
    for (const answer of created) {
      const redirect = await call(mesh.url, 'GET', `/${answer.body.code}`);
      expect(redirect.status).toBe(302);
      expect(redirect.headers.get('location')).toBe(answer.body.targetUrl);
    }

    // Another guest from the same client has a budget of their own.
    const other = await newGuest(mesh.url);
    expect((await shorten(mesh.url, other, 'https://example.com/other')).status).toBe(201);
    expect(await linkCount(mesh.url, token)).toBe(10);
  });
});

describe.each(MESH_FLAVOURS)('a caller over its own limit (%s)', (flavour) => {
  const mesh = meshForSuite(flavour, {
    RATE_LIMIT_CREATE_PER_PRINCIPAL: '2/1h',
    RATE_LIMIT_CREATE_PER_IP: '5/1h',
  });

  test('when one guest keeps creating past its own limit, then its neighbours behind the same address keep their share', async () => {
    const greedy = await newGuest(mesh.url);
    const answers = [];
    for (let i = 0; i < 10; i++)
      answers.push(await shorten(mesh.url, greedy, `https://example.com/greedy/${i}`));
    expect(answers.filter((a) => a.status === 201)).toHaveLength(2);
    // Refused by its own limit, it spent none of the address's budget: 5 - 2 remain.
    const neighbour = await newGuest(mesh.url);
    const theirs = [];
    for (let i = 0; i < 4; i++)
      theirs.push(await shorten(mesh.url, neighbour, `https://example.com/nb/${i}`));
    expect(theirs.map((a) => a.status)).toEqual([201, 201, 429, 429]);
  });
});

describe.each(MESH_FLAVOURS)('creates per client IP: 5/1h (%s)', (flavour) => {
  const mesh = meshForSuite(flavour, { RATE_LIMIT_CREATE_PER_IP: '5/1h' });

  test('when two guests from the same client create at once, then together they get exactly 5', async () => {
    const first = await newGuest(mesh.url);
    const second = await newGuest(mesh.url);
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        shorten(mesh.url, i % 2 === 0 ? first : second, `https://example.com/shared-ip/${i}`),
      ),
    );
    expect(answers.filter((a) => a.status === 201)).toHaveLength(5);
    const limited = answers.filter((a) => a.status === 429);
    expect(limited).toHaveLength(7);
    for (const answer of limited) expectRateLimited(answer);

    expect((await linkCount(mesh.url, first)) + (await linkCount(mesh.url, second))).toBe(5);

    // A third guest from the same client is refused too: the budget is the client's.
    const third = await newGuest(mesh.url);
    expectRateLimited(await shorten(mesh.url, third, 'https://example.com/shared-ip/third'));
    expect(await linkCount(mesh.url, third)).toBe(0);
  });
});

describe.each(MESH_FLAVOURS)('guests per client IP: 3/1h (%s)', (flavour) => {
  const mesh = meshForSuite(flavour, { RATE_LIMIT_GUESTS_PER_IP: '3/1h' });

  test('when one client asks for a 4th guest identity, then 429 and the first three still work', async () => {
    const tokens: string[] = [];
    for (let i = 0; i < 3; i++) {
      const answer = await guest(mesh.url);
      expect(answer.status).toBe(201);
      tokens.push(answer.body.token);
    }
    expectRateLimited(await guest(mesh.url));
    for (const token of tokens) {
      expect((await shorten(mesh.url, token, `https://example.com/g/${token}`)).status).toBe(201);
    }
  });
});

describe.each(MESH_FLAVOURS)('behind one trusted proxy (%s)', (flavour) => {
  const mesh = meshForSuite(flavour, {
    TRUSTED_PROXIES: '1',
    RATE_LIMIT_GUESTS_PER_IP: '3/1h',
  });

  test('when the proxy forwards a different client address, then that client has a budget of its own', async () => {
    const first = { 'x-forwarded-for': '203.0.113.10' };
    for (let i = 0; i < 3; i++) expect((await guest(mesh.url, first)).status).toBe(201);
    expectRateLimited(await guest(mesh.url, first));

    const second = { 'x-forwarded-for': '203.0.113.20' };
    const other = await guest(mesh.url, second);
    expect(other.status).toBe(201);
    expect((await shorten(mesh.url, other.body.token, 'https://example.com/proxied')).status).toBe(
      201,
    );
    // The first client stays limited however the second fares.
    expectRateLimited(await guest(mesh.url, first));
  });
});

describe.each(MESH_FLAVOURS)('with no trusted proxy (%s)', (flavour) => {
  const mesh = meshForSuite(flavour, { RATE_LIMIT_GUESTS_PER_IP: '3/1h' });

  test('when a client spoofs X-Forwarded-For, then it does not escape its limit', async () => {
    for (let i = 0; i < 3; i++) {
      const answer = await guest(mesh.url, { 'x-forwarded-for': `198.51.100.${i + 1}` });
      expect(answer.status).toBe(201);
    }
    expectRateLimited(await guest(mesh.url, { 'x-forwarded-for': '198.51.100.99' }));
    expectRateLimited(await guest(mesh.url, { 'x-forwarded-for': '198.51.100.1, 192.0.2.7' }));
    expectRateLimited(await guest(mesh.url));
  });
});
