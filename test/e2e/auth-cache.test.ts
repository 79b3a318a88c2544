// Authentication off the hot path: a gateway keeps tokens identity accepted
// recently (by their hash), and a revoked session or API key, a reset
// password or a closed account stops working on every gateway within one
// second, because identity announces every revocation and each gateway drops
// what it cached of it.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type RunningGateway, startGateway } from '../../gateway/main.ts';
import { PrincipalKind } from '../../gen/shortener/v1/principal.ts';
import { bearerTokenHash } from '../../lib/auth/revocations.ts';
import { dialable } from '../../lib/config/parsers.ts';
import { redisSharedState, type SharedState } from '../../lib/shared-state.ts';
import { CapturedMail, newEmail, newMember } from '../support/accounts.ts';
import { call, newGuest, shorten } from '../support/http.ts';
import { testObservers } from '../support/infrastructure.ts';
import { testLog } from '../support/logger.ts';
import { MESH_FLAVOURS, meshForSuite } from '../support/mesh.ts';
import { expectProblem } from '../support/problems.ts';
import { within } from '../support/wait.ts';

describe.each(MESH_FLAVOURS)('authentication cache (%s)', (flavour) => {
  const mail = new CapturedMail();
  const mesh = meshForSuite(flavour, {}, { identity: { mail } });
  let secondShared: SharedState;
  let second: RunningGateway;
  const gateways = () => [mesh.mesh.gateway, second];

  beforeAll(async () => {
    // A second gateway, as replicas run: the same identity and link services,
    // and (on Redis) its own connections to the shared state.
    secondShared =
      flavour === 'embedded'
        ? mesh.mesh.shared
        : await redisSharedState({
            url: mesh.config.redisUrl,
            keyPrefix: mesh.config.redisKeyPrefix,
            log: testLog,
            name: 'second-gateway',
          });
    second = await startGateway(
      {
        ...mesh.config.gateway,
        linkTarget: dialable(mesh.mesh.link.address),
        identityTarget: dialable(mesh.mesh.identity.address),
        analyticsTarget: dialable(mesh.mesh.analytics.address),
      },
      mesh.config,
      testLog,
      { shared: secondShared, bus: mesh.mesh.bus, ...testObservers(mesh.mesh.bus) },
    );
    await within(5_000, async () => gateways().every((gateway) => gateway.auth.live));
  });
  afterAll(async () => {
    await second?.stop();
    if (flavour !== 'embedded') await secondShared?.close();
  });

  const me = (gateway: RunningGateway, token: string) =>
    call(gateway.url, 'GET', '/api/v1/me', { token });

  /** Authenticated on both gateways, so both hold it in their caches. */
  async function warm(token: string): Promise<void> {
    for (const gateway of gateways()) {
      expect((await me(gateway, token)).status).toBe(200);
      expect(gateway.auth.get(bearerTokenHash(token))).toBeDefined();
    }
  }

  /** Waits until every gateway refuses the token; returns how long each took. */
  async function refusedEverywhere(token: string): Promise<number[]> {
    const elapsed = await Promise.all(
      gateways().map((gateway) =>
        within(1_000, async () => (await me(gateway, token)).status === 401),
      ),
    );
    for (const ms of elapsed) expect(ms).toBeLessThanOrEqual(1_000);
    for (const gateway of gateways()) {
      expectProblem(await me(gateway, token), 401, { code: 'invalid_token' });
      expect(gateway.auth.get(bearerTokenHash(token))).toBeUndefined();
    }
    return elapsed;
  }

  test('when a token is used again, then the gateway answers from its cache, keyed by the hash and never by the token', async () => {
    const token = await newMember(mesh.url);
    await warm(token);
    const cached = mesh.mesh.gateway.auth.get(bearerTokenHash(token));
    expect(cached?.kind).toBe(PrincipalKind.PRINCIPAL_KIND_MEMBER);
    expect(cached?.id).toBe((await me(second, token)).body.id);
    expect(mesh.mesh.gateway.auth.get(token)).toBeUndefined();
  });

  test('when a token is refused, then the refusal is not cached and the next try asks identity again', async () => {
    const bogus = `smt_${'x'.repeat(43)}`;
    expectProblem(await me(mesh.mesh.gateway, bogus), 401, { code: 'invalid_token' });
    expect(mesh.mesh.gateway.auth.get(bearerTokenHash(bogus))).toBeUndefined();
  });

  test('when a member makes an API key, then it creates links like a session, and once revoked it is refused on every gateway within one second', async () => {
    const session = await newMember(mesh.url);
    const made = await call(mesh.url, 'POST', '/api/v1/api-keys', {
      token: session,
      json: { name: 'script' },
    });
    expect(made.status).toBe(201);
    const key = made.body.key as string;
    for (const gateway of gateways()) {
      const created = await shorten(gateway.url, key, `https://example.com/by-key/${Date.now()}`);
      expect(created.status).toBe(201);
    }
    await warm(key);

    const revoked = await call(mesh.url, 'DELETE', `/api/v1/api-keys/${made.body.id}`, {
      token: session,
    });
    expect(revoked.status).toBe(204);
    await refusedEverywhere(key);
    expectProblem(await shorten(second.url, key, 'https://example.com/after-revoke'), 401, {
      code: 'invalid_token',
    });
    // The session that revoked it still works (asked afresh).
    expect((await me(second, session)).status).toBe(200);
  });

  test('when an API key is presented to log out, then it is refused on every gateway within one second', async () => {
    const session = await newMember(mesh.url);
    const made = await call(mesh.url, 'POST', '/api/v1/api-keys', {
      token: session,
      json: { name: 'logged out' },
    });
    const key = made.body.key as string;
    await warm(key);
    expect(
      (await call(second.url, 'DELETE', '/api/v1/sessions/current', { token: key })).status,
    ).toBe(204);
    await refusedEverywhere(key);
  });

  test('when a guest logs out on one gateway, then the token is refused on every gateway within one second', async () => {
    const token = await newGuest(mesh.url);
    await warm(token);
    const out = await call(mesh.url, 'DELETE', '/api/v1/sessions/current', { token });
    expect(out.status).toBe(204);
    await refusedEverywhere(token);
  });

  test('when a member resets their password, then every old session is refused on every gateway within one second', async () => {
    const email = newEmail('cached-reset');
    const old = await newMember(mesh.url, email);
    await warm(old);
    expect(
      (await call(mesh.url, 'POST', '/api/v1/password-resets', { json: { email } })).status,
    ).toBe(202);
    const confirmed = await call(mesh.url, 'POST', '/api/v1/password-resets/confirm', {
      json: { token: mail.lastToken(email, 'password_reset'), password: 'a brand new passphrase' },
    });
    expect(confirmed.status).toBe(204);
    await refusedEverywhere(old);
  });

  test('when a member closes their account, then its sessions and keys are refused on every gateway within one second', async () => {
    const session = await newMember(mesh.url);
    const made = await call(mesh.url, 'POST', '/api/v1/api-keys', {
      token: session,
      json: { name: 'doomed' },
    });
    const key = made.body.key as string;
    await warm(session);
    await warm(key);
    expect((await call(second.url, 'DELETE', '/api/v1/me', { token: session })).status).toBe(204);
    await refusedEverywhere(session);
    await refusedEverywhere(key);
  });
});
