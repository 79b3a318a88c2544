// Members over HTTP: signing up with an email and a password, logging in and
// out, seeing oneself. Bad input is refused with the reason and the field; a
// login never tells an unknown email from a wrong password, and repeated
// failures are slowed down per email and per client address.
import { describe, expect, test } from 'vitest';
import { GOOD_PASSWORD, logIn, newEmail, signUp } from '../support/accounts.ts';
import { call, newGuest } from '../support/http.ts';
import { MESH_FLAVOURS, meshForSuite, startTestMesh } from '../support/mesh.ts';
import { expectProblem } from '../support/problems.ts';

describe.each(MESH_FLAVOURS)('members (%s)', (flavour) => {
  const mesh = meshForSuite(flavour, {
    RATE_LIMIT_LOGIN_FAILURES_PER_EMAIL: '3/1m',
    RATE_LIMIT_LOGIN_FAILURES_PER_IP: '1000/1m',
  });

  test('when someone signs up, then they are a member with a session, and /me says who they are', async () => {
    const email = newEmail('signup');
    const made = await signUp(mesh.url, `  ${email.toUpperCase()} `);
    expect(made.status).toBe(201);
    expect(made.body).toEqual({
      id: expect.stringMatching(/^\d+$/),
      kind: 'member',
      email,
      token: expect.stringMatching(/^smt_/),
      tokenExpiresAt: expect.any(String),
    });
    expect(Date.parse(made.body.tokenExpiresAt)).toBeGreaterThan(Date.now() + 29 * 86_400_000);

    const me = await call(mesh.url, 'GET', '/api/v1/me', { token: made.body.token });
    expect(me.status).toBe(200);
    expect(me.body).toEqual({
      id: made.body.id,
      kind: 'member',
      email,
      emailVerified: false,
      createdAt: expect.any(String),
    });
    expect(Math.abs(Date.parse(me.body.createdAt) - Date.now())).toBeLessThan(60_000);
    // A member's token shortens links like a guest's.
    const link = await call(mesh.url, 'POST', '/api/v1/links', {
      token: made.body.token,
      json: { targetUrl: 'https://example.com/member/first' },
    });
    expect(link.status).toBe(201);
    expect(link.body.ownerId).toBe(made.body.id);
  });

  test('when a guest asks /me, then it is a guest with no email', async () => {
    const issued = await call(mesh.url, 'POST', '/api/v1/guests');
    const me = await call(mesh.url, 'GET', '/api/v1/me', { token: issued.body.token });
    expect(me.status).toBe(200);
    expect(me.body).toEqual({
      id: issued.body.id,
      kind: 'guest',
      email: null,
      emailVerified: false,
      createdAt: expect.any(String),
    });
    expectProblem(await call(mesh.url, 'GET', '/api/v1/me'), 401, { code: 'missing_token' });
  });

  test('when the email is taken, in any case or spacing, then 409 email_taken and no second account', async () => {
    const email = newEmail('taken');
    expect((await signUp(mesh.url, email)).status).toBe(201);
    for (const again of [email, email.toUpperCase(), ` ${email}\t`]) {
      expectProblem(await signUp(mesh.url, again, 'another fine password'), 409, {
        code: 'email_taken',
        label: again,
      });
    }
    // The first password still opens the one account.
    expect((await logIn(mesh.url, email)).status).toBe(201);
    expectProblem(await logIn(mesh.url, email, 'another fine password'), 401, {
      code: 'invalid_credentials',
    });
  });

  test('when the email or password is not acceptable, then 400 with the reason and the field, and nothing is made', async () => {
    const cases: [string, string, string, string][] = [
      ['not-an-email', GOOD_PASSWORD, 'invalid_email', 'email'],
      ['two@@example.com', GOOD_PASSWORD, 'invalid_email', 'email'],
      ['nodot@localhost', GOOD_PASSWORD, 'invalid_email', 'email'],
      [`${'a'.repeat(250)}@example.com`, GOOD_PASSWORD, 'invalid_email', 'email'],
      ['', GOOD_PASSWORD, 'invalid_email', 'email'],
      [newEmail('short'), 'short1', 'password_too_short', 'password'],
      [newEmail('short'), '', 'password_too_short', 'password'],
      [newEmail('common'), 'password123', 'password_too_common', 'password'],
      [newEmail('common'), 'Qwertyuiop', 'password_too_common', 'password'],
      [newEmail('huge'), 'x'.repeat(129), 'password_too_long', 'password'],
      [newEmail('huge'), 'y'.repeat(10_000), 'password_too_long', 'password'],
    ];
    for (const [email, password, code, field] of cases) {
      const refused = await signUp(mesh.url, email, password);
      expectProblem(refused, 400, { code, field, label: `${email.slice(0, 20)} ${code}` });
      expect(refused.body.detail.length).toBeGreaterThan(10);
    }
    // None of the well-formed emails got an account.
    for (const [email, , code] of cases.slice(5)) {
      expectProblem(await logIn(mesh.url, email, GOOD_PASSWORD), 401, {
        code: 'invalid_credentials',
        label: code,
      });
    }
    // A body that is not the shape at all is the gateway's to refuse.
    const extra = await call(mesh.url, 'POST', '/api/v1/users', {
      json: { email: newEmail(), password: GOOD_PASSWORD, admin: true },
    });
    expectProblem(extra, 400, { code: 'invalid_request' });
    const missing = await call(mesh.url, 'POST', '/api/v1/users', { json: { email: newEmail() } });
    expectProblem(missing, 400, { code: 'invalid_request', field: 'password' });
  });

  test('when a login has an unknown email or a wrong password, then both get the same 401', async () => {
    const email = newEmail('login');
    expect((await signUp(mesh.url, email)).status).toBe(201);
    const wrong = await logIn(mesh.url, email, 'not the password at all');
    const unknown = await logIn(mesh.url, newEmail('nobody'), 'not the password at all');
    expectProblem(wrong, 401, { code: 'invalid_credentials' });
    expect(unknown.body).toEqual(wrong.body);
    expect(unknown.status).toBe(wrong.status);
    expect(unknown.headers.get('www-authenticate')).toBe(wrong.headers.get('www-authenticate'));

    const good = await logIn(mesh.url, email.toUpperCase());
    expect(good.status).toBe(201);
    expect(good.body).toMatchObject({ kind: 'member', email });
    expect((await call(mesh.url, 'GET', '/api/v1/me', { token: good.body.token })).status).toBe(
      200,
    );
  });

  test('when an unknown email logs in, then it takes about as long as a wrong password', async () => {
    const email = newEmail('timing');
    expect((await signUp(mesh.url, email)).status).toBe(201);
    const timed = async (address: string) => {
      const start = performance.now();
      const answer = await logIn(mesh.url, address, 'definitely wrong password');
      expect(answer.status).toBe(401);
      return performance.now() - start;
    };
    // Alternating, so load on the machine hits both alike; the quickest of
    // each is the least disturbed by it. (Three: the suite's failure budget per email.)
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 3; i++) {
      known.push(await timed(email));
      unknown.push(await timed(newEmail('ghost')));
    }
    // Both verify an argon2id hash (about 20 ms or more); a lookup alone would take 1-2 ms.
    expect(Math.min(...unknown)).toBeGreaterThan(Math.min(...known) * 0.5);
    expect(Math.min(...unknown)).toBeGreaterThan(8);
  });

  test('when a password is wrong too often, then 429 with Retry-After, even for the right one, and other emails are unaffected', async () => {
    const email = newEmail('locked');
    const other = newEmail('neighbour');
    expect((await signUp(mesh.url, email)).status).toBe(201);
    expect((await signUp(mesh.url, other)).status).toBe(201);
    for (let i = 0; i < 3; i++) {
      expectProblem(await logIn(mesh.url, email, `wrong guess ${i}`), 401, {
        code: 'invalid_credentials',
      });
    }
    const limited = await logIn(mesh.url, email, 'wrong guess again');
    expectProblem(limited, 429, { code: 'login_rate_limited' });
    const wait = Number(limited.headers.get('retry-after'));
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(60);
    expect(limited.body.retryAfterSeconds).toBe(wait);
    expectProblem(await logIn(mesh.url, email), 429, { code: 'login_rate_limited' });
    // The same limit for an email nobody has: the answer does not tell them apart.
    const ghost = newEmail('ghost');
    for (let i = 0; i < 3; i++)
      expect((await logIn(mesh.url, ghost, `x${i} guess`)).status).toBe(401);
    expectProblem(await logIn(mesh.url, ghost, 'x guess'), 429, { code: 'login_rate_limited' });
    // Another member logs in as ever.
    expect((await logIn(mesh.url, other)).status).toBe(201);
  });

  test('when a member logs in after failures, then the failures are forgotten', async () => {
    const email = newEmail('forgiven');
    expect((await signUp(mesh.url, email)).status).toBe(201);
    for (let round = 0; round < 3; round++) {
      expect((await logIn(mesh.url, email, 'typo in password')).status).toBe(401);
      expect((await logIn(mesh.url, email, 'typo in password')).status).toBe(401);
      expect((await logIn(mesh.url, email)).status).toBe(201);
    }
  });

  test('when a member logs out, then that session stops and the others go on', async () => {
    const email = newEmail('logout');
    const first = await signUp(mesh.url, email);
    const second = await logIn(mesh.url, email);
    const out = await call(mesh.url, 'DELETE', '/api/v1/sessions/current', {
      token: first.body.token,
    });
    expect(out.status).toBe(204);
    expectProblem(await call(mesh.url, 'GET', '/api/v1/me', { token: first.body.token }), 401, {
      code: 'invalid_token',
    });
    expect((await call(mesh.url, 'GET', '/api/v1/me', { token: second.body.token })).status).toBe(
      200,
    );
  });

  test('when sign-up comes with a token that does not authenticate, then 401 and no account', async () => {
    const email = newEmail('badguest');
    expectProblem(await signUp(mesh.url, email, GOOD_PASSWORD, 'smt_not-a-real-token'), 401, {
      code: 'invalid_token',
    });
    expectProblem(await logIn(mesh.url, email), 401, { code: 'invalid_credentials' });
    // A guest's valid token is fine; a member's is ignored.
    const guest = await newGuest(mesh.url);
    expect((await signUp(mesh.url, email, GOOD_PASSWORD, guest)).status).toBe(201);
    const memberToken = (await logIn(mesh.url, email)).body.token;
    expect((await signUp(mesh.url, newEmail('second'), GOOD_PASSWORD, memberToken)).status).toBe(
      201,
    );
  });
});

test('the OpenAPI document describes every account route with its answers', async () => {
  const mesh = await startTestMesh('embedded');
  try {
    const { paths } = (await call(mesh.url, 'GET', '/api/v1/openapi.json')).body;
    const statuses = (path: string, method: string) =>
      Object.keys(
        ((paths[path]?.[method] as { responses?: object } | undefined)?.responses ?? {}) as object,
      ).sort();
    const expected: [string, string, string[]][] = [
      ['/api/v1/users', 'post', ['201', '400', '401', '409', '429', '503']],
      ['/api/v1/sessions', 'post', ['201', '400', '401', '409', '429', '503']],
      ['/api/v1/me', 'get', ['200', '401', '404', '503']],
      ['/api/v1/me', 'delete', ['204', '401', '403', '503']],
      ['/api/v1/api-keys', 'post', ['201', '400', '401', '403', '409', '503']],
      ['/api/v1/api-keys', 'get', ['200', '401', '403', '503']],
      ['/api/v1/api-keys/{id}', 'delete', ['204', '400', '401', '403', '404', '503']],
      ['/api/v1/password-resets', 'post', ['202', '400', '429', '503']],
      ['/api/v1/password-resets/confirm', 'post', ['204', '400', '503']],
      ['/api/v1/email-verifications/confirm', 'post', ['204', '400', '503']],
    ];
    for (const [path, method, answers] of expected) {
      expect(statuses(path, method), `${method} ${path}`).toEqual(answers);
    }
    type Answers = { responses: Record<string, { content: Record<string, { schema: object }> }> };
    const created = (paths['/api/v1/users']?.post as Answers | undefined)?.responses['201'];
    const schema = created?.content['application/json']?.schema as { properties?: object };
    expect(Object.keys(schema?.properties ?? {}).sort()).toEqual([
      'email',
      'id',
      'kind',
      'token',
      'tokenExpiresAt',
    ]);
  } finally {
    await mesh.stop();
  }
});

describe.each(MESH_FLAVOURS)('failed logins per client address (%s)', (flavour) => {
  const mesh = meshForSuite(flavour, {
    RATE_LIMIT_LOGIN_FAILURES_PER_EMAIL: '100/1m',
    RATE_LIMIT_LOGIN_FAILURES_PER_IP: '4/1m',
  });

  test('when one address fails with many emails, then it gets 429 for every email', async () => {
    const email = newEmail('sprayed');
    expect((await signUp(mesh.url, email)).status).toBe(201);
    for (let i = 0; i < 4; i++) {
      expect((await logIn(mesh.url, newEmail(`spray${i}`), 'spray password')).status).toBe(401);
    }
    const limited = await logIn(mesh.url, newEmail('spray-next'), 'spray password');
    expectProblem(limited, 429, { code: 'login_rate_limited' });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expectProblem(await logIn(mesh.url, email), 429, { code: 'login_rate_limited' });
  });
});
