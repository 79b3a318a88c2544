// A guest becomes a member: signing up or logging in with the guest's token
// adopts every link the guest made. The member's list shows them, their
// codes go on redirecting (every near cache dropped them, so clicks are
// counted for the member), the guest's token makes no more links, and
// however the adoption is repeated, retried or raced, every link ends with
// exactly one owner.
import { describe, expect, test } from 'vitest';
import { GOOD_PASSWORD, logIn, newEmail, signUp } from '../support/accounts.ts';
import { linkClientForTest } from '../support/grpc.ts';
import { type ApiBody, call, linksOf, newGuest, shorten } from '../support/http.ts';
import { MESH_FLAVOURS, meshForSuite } from '../support/mesh.ts';
import { expectProblem } from '../support/problems.ts';
import { within } from '../support/wait.ts';

const CHROME_ON_LINUX =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36';

const codes = (links: ApiBody[]) => links.map((link) => link.code).sort();

describe.each(MESH_FLAVOURS)('a guest becomes a member (%s)', (flavour) => {
  const mesh = meshForSuite(flavour);

  /** A guest token with `count` links, each redirected once so near caches hold them. */
  async function guestWithLinks(label: string, count = 3) {
    const token = await newGuest(mesh.url);
    const made: ApiBody[] = [];
    for (let i = 0; i < count; i++) {
      const link = await shorten(mesh.url, token, `https://example.com/${label}/${i}`);
      expect(link.status).toBe(201);
      made.push(link.body);
      expect((await call(mesh.url, 'GET', `/${link.body.code}`)).status).toBe(302);
    }
    return { token, links: made };
  }

  test("when a guest with three links signs up, then the member's list shows them and the guest's is empty", async () => {
    const guest = await guestWithLinks('signup');
    const member = await signUp(mesh.url, newEmail('adopter'), GOOD_PASSWORD, guest.token);
    expect(member.status).toBe(201);

    const listed = await linksOf(mesh.url, member.body.token);
    expect(codes(listed)).toEqual(codes(guest.links));
    for (const link of listed) expect(link.ownerId).toBe(member.body.id);
    expect(await linksOf(mesh.url, guest.token)).toEqual([]);
    // Every code still redirects where it did, and the member manages them.
    for (const link of guest.links) {
      const followed = await call(mesh.url, 'GET', `/${link.code}`);
      expect(followed.status).toBe(302);
      expect(followed.headers.get('location')).toBe(link.targetUrl);
      const own = await call(mesh.url, 'GET', `/api/v1/links/${link.code}`, {
        token: member.body.token,
      });
      expect(own.status).toBe(200);
      expect(own.body.ownerId).toBe(member.body.id);
    }
    const deleted = await call(mesh.url, 'DELETE', `/api/v1/links/${guest.links[0]?.code}`, {
      token: member.body.token,
    });
    expect(deleted.status).toBe(204);
  });

  test('when a guest is adopted, then watchers of link changes hear its codes and resolving names the member', async () => {
    const guest = await guestWithLinks('watched', 2);
    const link = linkClientForTest(mesh.mesh.link.address);
    // Resolved once, so the shared cache holds each code with the guest as owner.
    for (const made of guest.links) {
      expect((await link.resolveLink({ code: made.code })).ownerId).toBe(made.ownerId);
    }
    const heard = new Set<string>();
    const stop = new AbortController();
    const watching = link
      .watchLinkChanges(
        {},
        {
          deadline: Number.POSITIVE_INFINITY,
          signal: stop.signal,
          onMessage: (message) => {
            for (const code of message.codes) heard.add(code);
          },
        },
      )
      .catch(() => {});
    try {
      const member = await signUp(mesh.url, newEmail('watched'), GOOD_PASSWORD, guest.token);
      expect(member.status).toBe(201);
      await within(2_000, () => guest.links.every((made) => heard.has(made.code)));
      for (const made of guest.links) {
        expect((await link.resolveLink({ code: made.code })).ownerId).toBe(member.body.id);
      }
    } finally {
      stop.abort();
      await watching;
    }
  });

  test('when an adopted guest shortens again, then 409 guest_adopted and nothing is stored', async () => {
    const guest = await guestWithLinks('after', 1);
    const member = await signUp(mesh.url, newEmail('adopter'), GOOD_PASSWORD, guest.token);
    expect(member.status).toBe(201);
    const refused = await shorten(mesh.url, guest.token, 'https://example.com/after/new');
    expectProblem(refused, 409, { code: 'guest_adopted' });
    expect(await linksOf(mesh.url, guest.token)).toEqual([]);
    expect((await linksOf(mesh.url, member.body.token)).map((l) => l.targetUrl)).toEqual([
      'https://example.com/after/0',
    ]);
  });

  test('when a member logs in with a guest token, then the guest is adopted; logging in with it again changes nothing', async () => {
    const email = newEmail('login-adopter');
    const member = await signUp(mesh.url, email);
    const own = await shorten(mesh.url, member.body.token, 'https://example.com/own');
    const guest = await guestWithLinks('login');
    const first = await logIn(mesh.url, email, GOOD_PASSWORD, guest.token);
    expect(first.status).toBe(201);
    const expected = [...codes(guest.links), own.body.code].sort();
    expect(codes(await linksOf(mesh.url, member.body.token))).toEqual(expected);
    // Retried: the same answer, the same links.
    const again = await logIn(mesh.url, email, GOOD_PASSWORD, guest.token);
    expect(again.status).toBe(201);
    expect(codes(await linksOf(mesh.url, again.body.token))).toEqual(expected);
  });

  test('when another account presents an adopted guest, then 409 guest_already_adopted and the links stay', async () => {
    const guest = await guestWithLinks('taken', 2);
    const winner = await signUp(mesh.url, newEmail('winner'), GOOD_PASSWORD, guest.token);
    expect(winner.status).toBe(201);

    const latecomer = newEmail('latecomer');
    expectProblem(await signUp(mesh.url, latecomer, GOOD_PASSWORD, guest.token), 409, {
      code: 'guest_already_adopted',
    });
    // No account was made for the refused sign-up.
    expectProblem(await logIn(mesh.url, latecomer), 401, { code: 'invalid_credentials' });
    const other = newEmail('other');
    const otherToken = (await signUp(mesh.url, other)).body.token;
    expectProblem(await logIn(mesh.url, other, GOOD_PASSWORD, guest.token), 409, {
      code: 'guest_already_adopted',
    });
    expect(await linksOf(mesh.url, otherToken)).toEqual([]);
    expect(codes(await linksOf(mesh.url, winner.body.token))).toEqual(codes(guest.links));
  });

  test('when the same adoption is raced by logins of one member, then every link has exactly one owner', async () => {
    const email = newEmail('racer');
    expect((await signUp(mesh.url, email)).status).toBe(201);
    const guest = await guestWithLinks('race', 5);
    // As many at once as the failed-login budget admits (each attempt spends from it first).
    const answers = await Promise.all(
      Array.from({ length: 4 }, () => logIn(mesh.url, email, GOOD_PASSWORD, guest.token)),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(4).fill(201));
    const listed = await linksOf(mesh.url, answers[0]?.body.token ?? '');
    expect(codes(listed)).toEqual(codes(guest.links));
    expect(await linksOf(mesh.url, guest.token)).toEqual([]);
  });

  test('when two new accounts race to adopt one guest, then exactly one wins and owns every link', async () => {
    const guest = await guestWithLinks('duel', 4);
    const answers = await Promise.all(
      Array.from({ length: 4 }, (_, i) =>
        signUp(mesh.url, newEmail(`duel${i}`), GOOD_PASSWORD, guest.token),
      ),
    );
    const won = answers.filter((a) => a.status === 201);
    const lost = answers.filter((a) => a.status !== 201);
    expect(won).toHaveLength(1);
    for (const answer of lost) expectProblem(answer, 409, { code: 'guest_already_adopted' });
    const winner = won[0]?.body;
    const listed = await linksOf(mesh.url, winner?.token ?? '');
    expect(codes(listed)).toEqual(codes(guest.links));
    for (const link of listed) expect(link.ownerId).toBe(winner?.id);
    expect(await linksOf(mesh.url, guest.token)).toEqual([]);
  });

  test('when a guest keeps shortening while it signs up, then no link stays behind with the guest', async () => {
    const guest = await newGuest(mesh.url);
    const [member, ...made] = await Promise.all([
      signUp(mesh.url, newEmail('busy'), GOOD_PASSWORD, guest),
      ...Array.from({ length: 30 }, (_, i) =>
        shorten(mesh.url, guest, `https://example.com/busy/${i}`),
      ),
    ]);
    expect(member?.status).toBe(201);
    for (const answer of made) {
      if (answer.status !== 201) expectProblem(answer, 409, { code: 'guest_adopted' });
    }
    const created = made.filter((a) => a.status === 201).map((a) => a.body.code);
    const listed = await linksOf(mesh.url, member?.body.token ?? '');
    // Every link the guest was told it made is the member's; none is the guest's.
    for (const code of created) expect(codes(listed)).toContain(code);
    for (const link of listed) expect(link.ownerId).toBe(member?.body.id);
    expect(await linksOf(mesh.url, guest)).toEqual([]);
    expectProblem(await shorten(mesh.url, guest, 'https://example.com/busy/after'), 409, {
      code: 'guest_adopted',
    });
  });

  test('when member and guest both have a live link for one URL, then both codes work and the member keeps both', async () => {
    const email = newEmail('both');
    const member = await signUp(mesh.url, email);
    const url = 'https://example.com/shared/page';
    const mine = await shorten(mesh.url, member.body.token, url);
    const guest = await newGuest(mesh.url);
    const theirs = await shorten(mesh.url, guest, url);
    expect(theirs.body.code).not.toBe(mine.body.code);

    expect((await logIn(mesh.url, email, GOOD_PASSWORD, guest)).status).toBe(201);
    expect(codes(await linksOf(mesh.url, member.body.token))).toEqual(
      [mine.body.code, theirs.body.code].sort(),
    );
    for (const code of [mine.body.code, theirs.body.code]) {
      const followed = await call(mesh.url, 'GET', `/${code}`);
      expect(followed.status).toBe(302);
      expect(followed.headers.get('location')).toBe(url);
    }
    // Shortening the URL again returns the member's own link, as before.
    const again = await shorten(mesh.url, member.body.token, url);
    expect(again.status).toBe(200);
    expect(again.body.code).toBe(mine.body.code);
  });

  test("when a guest's clicked link is adopted, then the member sees its visits", async () => {
    const browser = { headers: { 'user-agent': CHROME_ON_LINUX } };
    const guest = await guestWithLinks('visits', 1);
    const code = guest.links[0]?.code ?? '';
    // One visit by a browser while the guest owns it, one after the adoption
    // (guestWithLinks followed it once already, without a browser's agent).
    expect((await call(mesh.url, 'GET', `/${code}`, browser)).status).toBe(302);
    const member = await signUp(mesh.url, newEmail('visits'), GOOD_PASSWORD, guest.token);
    expect(member.status).toBe(201);
    expect((await call(mesh.url, 'GET', `/${code}`, browser)).status).toBe(302);

    const visitsOf = async (token: string) => {
      const answer = await call(mesh.url, 'GET', `/api/v1/links/${code}/visits?pageSize=100`, {
        token,
      });
      return answer.status === 200 ? (answer.body as unknown as { visits: unknown[] }).visits : [];
    };
    await within(30_000, async () => (await visitsOf(member.body.token)).length === 3);
    const stats = await call(mesh.url, 'GET', `/api/v1/links/${code}/stats?includeBots=true`, {
      token: member.body.token,
    });
    expect(stats.status).toBe(200);
    expect((stats.body as unknown as { total: number }).total).toBe(3);
    // The guest, whose link it no longer is, sees nothing of it.
    expectProblem(
      await call(mesh.url, 'GET', `/api/v1/links/${code}/stats`, { token: guest.token }),
      404,
      { code: 'analytics_link_not_found' },
    );
  });
});
