// What a member does with their account besides logging in: confirm their
// email, reset a forgotten password, make API keys for scripts, and close the
// account. The mails identity would send are captured where the notifier
// takes them, so each story follows the token a member would get.
import { describe, expect, test } from 'vitest';
import {
  CapturedMail,
  GOOD_PASSWORD,
  logIn,
  newEmail,
  newMember,
  signUp,
} from '../support/accounts.ts';
import { call, linksOf, newGuest, shorten } from '../support/http.ts';
import { MESH_FLAVOURS, meshForSuite } from '../support/mesh.ts';
import { expectProblem } from '../support/problems.ts';
import { within } from '../support/wait.ts';

const NEW_PASSWORD = 'a brand new passphrase';

describe.each(MESH_FLAVOURS)('account lifecycle (%s)', (flavour) => {
  const mail = new CapturedMail();
  const mesh = meshForSuite(flavour, {}, { identity: { mail } });

  const me = (token: string) => call(mesh.url, 'GET', '/api/v1/me', { token });

  test('when a member confirms the token mailed at sign-up, then their email is verified, and the token is used up', async () => {
    const email = newEmail('verify');
    const token = await newMember(mesh.url, email);
    const sent = mail.to(email, 'email_verification');
    expect(sent).toHaveLength(1);
    expect(sent[0]?.expiresAt.getTime()).toBeGreaterThan(Date.now() + 86_400_000);
    expect((await me(token)).body.emailVerified).toBe(false);

    const confirm = (value: string) =>
      call(mesh.url, 'POST', '/api/v1/email-verifications/confirm', { json: { token: value } });
    expect((await confirm(mail.lastToken(email, 'email_verification'))).status).toBe(204);
    expect((await me(token)).body.emailVerified).toBe(true);
    expectProblem(await confirm(mail.lastToken(email, 'email_verification')), 400, {
      code: 'invalid_account_token',
      field: 'token',
    });
    expectProblem(await confirm('smv_nothing-like-a-token'), 400, {
      code: 'invalid_account_token',
    });
  });

  test('when a member resets their password, then the old one fails, the new one works, old sessions end, and the token is single-use', async () => {
    const email = newEmail('reset');
    const old = await newMember(mesh.url, email);
    const asked = await call(mesh.url, 'POST', '/api/v1/password-resets', {
      json: { email: email.toUpperCase() },
    });
    expect(asked.status).toBe(202);
    const sent = mail.to(email, 'password_reset');
    expect(sent).toHaveLength(1);
    const lifetime = (sent[0]?.expiresAt.getTime() ?? 0) - Date.now();
    expect(lifetime).toBeGreaterThan(29 * 60_000);
    expect(lifetime).toBeLessThanOrEqual(30 * 60_000);
    const token = mail.lastToken(email, 'password_reset');

    const confirm = (password: string) =>
      call(mesh.url, 'POST', '/api/v1/password-resets/confirm', { json: { token, password } });
    // A refused password leaves the token usable.
    expectProblem(await confirm('123456789'), 400, {
      code: 'password_too_common',
      field: 'password',
    });
    expect((await confirm(NEW_PASSWORD)).status).toBe(204);
    expectProblem(await confirm('yet another passphrase'), 400, { code: 'invalid_account_token' });

    expectProblem(await logIn(mesh.url, email), 401, { code: 'invalid_credentials' });
    expect((await logIn(mesh.url, email, NEW_PASSWORD)).status).toBe(201);
    expectProblem(await me(old), 401, { code: 'invalid_token' });
  });

  test('when a reset is asked for an email nobody has, then the same 202 and no token is made', async () => {
    const nobody = newEmail('nobody');
    const before = mail.sent.length;
    const asked = await call(mesh.url, 'POST', '/api/v1/password-resets', {
      json: { email: nobody },
    });
    const known = newEmail('known');
    await newMember(mesh.url, known);
    const knownAsked = await call(mesh.url, 'POST', '/api/v1/password-resets', {
      json: { email: known },
    });
    expect(asked.status).toBe(202);
    expect(knownAsked.status).toBe(202);
    expect(asked.body).toEqual(knownAsked.body);
    expect(mail.to(nobody, 'password_reset')).toEqual([]);
    // Only the known member's verification and reset mails went out meanwhile.
    expect(mail.sent.slice(before).map((m) => [m.email, m.kind])).toEqual([
      [known, 'email_verification'],
      [known, 'password_reset'],
    ]);
    expectProblem(
      await call(mesh.url, 'POST', '/api/v1/password-resets', { json: { email: 'not an email' } }),
      400,
      { code: 'invalid_email', field: 'email' },
    );
  });

  test('when a member makes an API key, then it works like a session, is listed without its secret, and stops once revoked', async () => {
    const token = await newMember(mesh.url);
    const made = await call(mesh.url, 'POST', '/api/v1/api-keys', {
      token,
      json: { name: '  deploy script ' },
    });
    expect(made.status).toBe(201);
    expect(made.body).toEqual({
      id: expect.stringMatching(/^\d+$/),
      name: 'deploy script',
      key: expect.stringMatching(/^smk_/),
      createdAt: expect.any(String),
    });
    const key = made.body.key;

    const listedBefore = await call(mesh.url, 'GET', '/api/v1/api-keys', { token });
    expect(listedBefore.body).toEqual({
      apiKeys: [
        {
          id: made.body.id,
          name: 'deploy script',
          createdAt: made.body.createdAt,
          lastUsedAt: null,
        },
      ],
    });
    expect(JSON.stringify(listedBefore.body)).not.toContain(key);

    // The key acts as the member.
    const link = await shorten(mesh.url, key, 'https://example.com/by-key');
    expect(link.status).toBe(201);
    expect((await me(key)).body.id).toBe((await me(token)).body.id);
    expect((await linksOf(mesh.url, token)).map((l) => l.code)).toEqual([link.body.code]);
    let lastUsedAt: string | null = null;
    for (let i = 0; i < 50 && !lastUsedAt; i++) {
      const listed = await call(mesh.url, 'GET', '/api/v1/api-keys', { token });
      lastUsedAt = listed.body.apiKeys[0]?.lastUsedAt ?? null;
    }
    expect(Math.abs(Date.parse(lastUsedAt ?? '') - Date.now())).toBeLessThan(60_000);

    expect(
      (await call(mesh.url, 'DELETE', `/api/v1/api-keys/${made.body.id}`, { token })).status,
    ).toBe(204);
    expectProblem(await me(key), 401, { code: 'invalid_token' });
    expectProblem(await shorten(mesh.url, key, 'https://example.com/after-revoke'), 401, {
      code: 'invalid_token',
    });
    expect((await call(mesh.url, 'GET', '/api/v1/api-keys', { token })).body.apiKeys).toEqual([]);
    // The session that made it goes on.
    expect((await me(token)).status).toBe(200);
  });

  test("when someone revokes another member's key, then 404 as for a key nobody has, and the key goes on working", async () => {
    const owner = await newMember(mesh.url);
    const stranger = await newMember(mesh.url);
    const made = await call(mesh.url, 'POST', '/api/v1/api-keys', {
      token: owner,
      json: { name: 'mine' },
    });
    const theirs = await call(mesh.url, 'DELETE', `/api/v1/api-keys/${made.body.id}`, {
      token: stranger,
    });
    expectProblem(theirs, 404, { code: 'api_key_not_found' });
    const nobodys = await call(mesh.url, 'DELETE', '/api/v1/api-keys/123456789012345678', {
      token: stranger,
    });
    expect(nobodys.body).toEqual(theirs.body);
    expectProblem(
      await call(mesh.url, 'DELETE', '/api/v1/api-keys/not-an-id', { token: owner }),
      400,
      {
        code: 'invalid_request',
        field: 'id',
      },
    );
    expect((await me(made.body.key)).status).toBe(200);
  });

  test('when a guest or a bad name asks for an API key, then 403 members_only or 400 with the field', async () => {
    const guest = await newGuest(mesh.url);
    for (const [method, path] of [
      ['POST', '/api/v1/api-keys'],
      ['GET', '/api/v1/api-keys'],
      ['DELETE', '/api/v1/api-keys/123456789012345678'],
    ] as const) {
      const refused = await call(mesh.url, method, path, {
        token: guest,
        ...(method === 'POST' ? { json: { name: 'x' } } : {}),
      });
      expectProblem(refused, 403, { code: 'members_only', label: `${method} ${path}` });
    }
    const token = await newMember(mesh.url);
    for (const name of ['', '   ', 'n'.repeat(101)]) {
      expectProblem(
        await call(mesh.url, 'POST', '/api/v1/api-keys', { token, json: { name } }),
        400,
        {
          code: 'invalid_api_key_name',
          field: 'name',
          label: JSON.stringify(name.slice(0, 5)),
        },
      );
    }
    expectProblem(await call(mesh.url, 'DELETE', '/api/v1/me', { token: guest }), 403, {
      code: 'members_only',
    });
  });

  test('when a member closes their account, then sessions and keys stop, their links are gone, and the email is free again', async () => {
    const email = newEmail('closing');
    const session = (await signUp(mesh.url, email)).body.token;
    const second = (await logIn(mesh.url, email)).body.token;
    const key = (
      await call(mesh.url, 'POST', '/api/v1/api-keys', { token: session, json: { name: 'k' } })
    ).body.key;
    const guest = await newGuest(mesh.url);
    const adopted = await shorten(mesh.url, guest, 'https://example.com/closing/adopted');
    expect((await logIn(mesh.url, email, GOOD_PASSWORD, guest)).status).toBe(201);
    const own = await shorten(mesh.url, session, 'https://example.com/closing/own');
    const codes = [adopted.body.code, own.body.code];
    for (const code of codes) expect((await call(mesh.url, 'GET', `/${code}`)).status).toBe(302);

    expect((await call(mesh.url, 'DELETE', '/api/v1/me', { token: session })).status).toBe(204);
    for (const token of [session, second, key]) {
      expectProblem(await me(token), 401, { code: 'invalid_token' });
    }
    // Gateways hear of it through the change feed: within a second, as for any delete.
    for (const code of codes) {
      await within(1_000, async () => (await call(mesh.url, 'GET', `/${code}`)).status === 404);
      expectProblem(await call(mesh.url, 'GET', `/${code}`), 404, { code: 'link_not_found' });
    }
    expectProblem(await logIn(mesh.url, email), 401, { code: 'invalid_credentials' });
    const again = await signUp(mesh.url, email, NEW_PASSWORD);
    expect(again.status).toBe(201);
    expect(await linksOf(mesh.url, again.body.token)).toEqual([]);
  });
});
