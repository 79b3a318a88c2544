// What bounds a cached authentication when a revocation is not heard: the
// TTL, and the broadcast's liveness. A token revoked behind identity's back
// (no announcement) is accepted at most one TTL longer; a gateway that lost
// the revocation broadcast stops caching, so every request is asked of
// identity, until the broadcast is back.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type RunningGateway, startGateway } from '../../gateway/main.ts';
import { bearerTokenHash } from '../../lib/auth/revocations.ts';
import { dialable } from '../../lib/config/parsers.ts';
import type { Orm } from '../../lib/db/open.ts';
import { redisSharedState, type SharedState } from '../../lib/shared-state.ts';
import { AccessTokenRow } from '../../services/identity/store/entities.ts';
import { call, newGuest } from '../support/http.ts';
import { testObservers } from '../support/infrastructure.ts';
import { testLog } from '../support/logger.ts';
import { identityDatabaseOf } from '../support/members.ts';
import { MESH_FLAVOURS, meshForSuite, type SuiteMesh } from '../support/mesh.ts';
import { OwnRedis } from '../support/redis-server.ts';
import { within } from '../support/wait.ts';

const TTL_MS = 1_000;

/** Revokes a session in identity's database, as nothing that announces it would. */
async function revokeSilently(identity: Orm, token: string): Promise<void> {
  const changed = await identity.em
    .fork()
    .nativeUpdate(AccessTokenRow, { tokenHash: bearerTokenHash(token) }, { revokedAt: new Date() });
  expect(changed).toBe(1);
}

const me = (url: string, token: string) => call(url, 'GET', '/api/v1/me', { token });

describe.each(MESH_FLAVOURS)('authentication cache backstop (%s)', (flavour) => {
  const mesh = meshForSuite(flavour, { AUTH_CACHE_TTL: `${TTL_MS}ms` });
  let identity: Orm;
  beforeAll(async () => {
    identity = await identityDatabaseOf(mesh);
  });
  afterAll(async () => {
    await identity?.close();
  });

  test('when a revocation is never announced, then the token is refused once the TTL has run out', async () => {
    const token = await newGuest(mesh.url);
    expect((await me(mesh.url, token)).status).toBe(200);
    await revokeSilently(identity, token);
    // Still cached (this is what the cache saves), but not for longer than the TTL.
    expect((await me(mesh.url, token)).status).toBe(200);
    const waited = await within(
      TTL_MS + 1_000,
      async () => (await me(mesh.url, token)).status === 401,
    );
    expect(waited).toBeLessThanOrEqual(TTL_MS + 200);
  });

  test('when the cache is turned off, then a silent revocation is refused at once', async () => {
    const token = await newGuest(mesh.url);
    const off = await startGatewayOf(mesh, { authCacheSize: 0 }, mesh.mesh.shared);
    try {
      expect(off.auth.enabled).toBe(false);
      expect((await me(off.url, token)).status).toBe(200);
      await revokeSilently(identity, token);
      expect((await me(off.url, token)).status).toBe(401);
    } finally {
      await off.stop();
    }
  });
});

function startGatewayOf(
  mesh: SuiteMesh,
  overrides: Partial<SuiteMesh['config']['gateway']>,
  shared: SharedState,
): Promise<RunningGateway> {
  return startGateway(
    {
      ...mesh.config.gateway,
      linkTarget: dialable(mesh.mesh.link.address),
      identityTarget: dialable(mesh.mesh.identity.address),
      analyticsTarget: dialable(mesh.mesh.analytics.address),
      clicks: { ...mesh.config.gateway.clicks, record: false },
      ...overrides,
    },
    mesh.config,
    testLog,
    { shared, bus: mesh.mesh.bus, ...testObservers(mesh.mesh.bus) },
  );
}

describe('a gateway that lost the revocation broadcast (mysql+redis)', () => {
  const mesh = meshForSuite('mysql+redis', { AUTH_CACHE_TTL: '1h' });
  let identity: Orm;
  let redis: OwnRedis;
  let shared: SharedState;
  let gateway: RunningGateway;

  beforeAll(async () => {
    identity = await identityDatabaseOf(mesh);
    // This gateway hears revocations through a Redis of its own, which the story stops.
    redis = await OwnRedis.start();
    shared = await redisSharedState({
      url: redis.url,
      keyPrefix: mesh.config.redisKeyPrefix,
      log: testLog,
      name: 'lonely-gateway',
    });
    gateway = await startGatewayOf(mesh, {}, shared);
    await within(5_000, async () => gateway.auth.live);
  });
  afterAll(async () => {
    await gateway?.stop();
    await shared?.close();
    await redis?.kill();
    await identity?.close();
  });

  test('when the broadcast goes, then the gateway stops caching and a revoked token is refused at once, and caching resumes when it is back', async () => {
    const token = await newGuest(mesh.url);
    expect((await me(gateway.url, token)).status).toBe(200);
    expect(gateway.auth.size).toBe(1);

    await redis.kill();
    await within(2_000, async () => !gateway.auth.live);
    expect(gateway.auth.size).toBe(0);
    // A revocation this gateway cannot hear: it asks identity, so it is refused anyway.
    expect((await me(gateway.url, token)).status).toBe(200);
    await revokeSilently(identity, token);
    expect((await me(gateway.url, token)).status).toBe(401);

    await redis.start();
    await within(10_000, async () => gateway.auth.live);
    const other = await newGuest(mesh.url);
    expect((await me(gateway.url, other)).status).toBe(200);
    expect(gateway.auth.get(bearerTokenHash(other))).toBeDefined();
  });
});
