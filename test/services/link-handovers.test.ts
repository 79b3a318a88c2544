// When identity cannot reach link at the moment a guest is adopted or an
// account is closed, the member still gets their answer, and the handover
// is made once link is back: no link is split from its owner or left behind.
// A second identity instance of the same mesh reaches link through a relay
// the story cuts; everything else is the real mesh on MariaDB and Redis.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { IdentityServiceClient, IdentityServiceService } from '../../gen/shortener/v1/identity.ts';
import { connect, promiseClient } from '../../lib/grpc/client.ts';
import { type RunningService, startService } from '../../lib/service.ts';
import { defineIdentityService } from '../../services/identity/main.ts';
import { GOOD_PASSWORD, newEmail } from '../support/accounts.ts';
import { call, linksOf, newGuest, shorten } from '../support/http.ts';
import { testObservers } from '../support/infrastructure.ts';
import { testLog } from '../support/logger.ts';
import { startTestMesh, type TestMesh } from '../support/mesh.ts';
import { TcpRelay } from '../support/tcp-relay.ts';
import { within } from '../support/wait.ts';

const portOf = (address: string) => Number(address.slice(address.lastIndexOf(':') + 1));

describe('handovers identity could not make at once (mysql+redis)', () => {
  let mesh: TestMesh;
  let relay: TcpRelay;
  let identity: RunningService;
  let client: IdentityServiceClient;
  let second: ReturnType<typeof promiseClient<typeof IdentityServiceService>>;

  beforeAll(async () => {
    mesh = await startTestMesh('mysql+redis');
    relay = new TcpRelay('127.0.0.1', portOf(mesh.mesh.link.address));
    await relay.start();
    identity = await startService(
      defineIdentityService({ handoverIntervalMs: 300 }),
      { ...mesh.config.identity, listen: '127.0.0.1:0', linkTarget: `127.0.0.1:${relay.port}` },
      mesh.config,
      testLog,
      { shared: mesh.mesh.shared, bus: mesh.mesh.bus, ...testObservers(mesh.mesh.bus) },
    );
    await identity.ready;
    client = connect(IdentityServiceClient, identity.address, 5_000);
    second = promiseClient(client, IdentityServiceService);
  });
  afterAll(async () => {
    client?.close();
    await identity?.stop();
    await relay?.cut();
    await mesh?.stop();
  });

  test('when link is unreachable as a guest signs up, then the sign-up succeeds and the links follow once link is back', async () => {
    const guest = await newGuest(mesh.url);
    const made = [
      await shorten(mesh.url, guest, 'https://example.com/handover/1'),
      await shorten(mesh.url, guest, 'https://example.com/handover/2'),
    ];
    await relay.cut();
    const { session } = await second.signUp({
      email: newEmail('handover'),
      password: GOOD_PASSWORD,
      guestToken: guest,
    });
    const token = session?.token ?? '';
    expect(token).toMatch(/^smt_/);
    // Not moved yet: the guest still holds them, the member has none.
    expect(await linksOf(mesh.url, token)).toEqual([]);
    expect(await linksOf(mesh.url, guest)).toHaveLength(2);

    await relay.start();
    await within(10_000, async () => (await linksOf(mesh.url, token)).length === 2);
    expect((await linksOf(mesh.url, token)).map((l) => l.code).sort()).toEqual(
      made.map((m) => m.body.code).sort(),
    );
    expect(await linksOf(mesh.url, guest)).toEqual([]);
  });

  test('when link is unreachable as an account closes, then the account closes and its links go once link is back', async () => {
    const { session } = await second.signUp({
      email: newEmail('closing'),
      password: GOOD_PASSWORD,
      guestToken: '',
    });
    const token = session?.token ?? '';
    const member = session?.member;
    if (!member) throw new Error('no member');
    const link = await shorten(mesh.url, token, 'https://example.com/handover/closed');
    expect((await call(mesh.url, 'GET', `/${link.body.code}`)).status).toBe(302);

    await relay.cut();
    await second.closeAccount({ caller: member });
    expect((await call(mesh.url, 'GET', '/api/v1/me', { token })).status).toBe(401);
    expect((await call(mesh.url, 'GET', `/${link.body.code}`)).status).toBe(302);

    await relay.start();
    await within(
      10_000,
      async () => (await call(mesh.url, 'GET', `/${link.body.code}`)).status === 404,
    );
  });

  test('when a member closes their account while their adoption still waits for link, then the adopted links go too', async () => {
    const guest = await newGuest(mesh.url);
    const made = await shorten(mesh.url, guest, 'https://example.com/handover/orphan');
    expect((await call(mesh.url, 'GET', `/${made.body.code}`)).status).toBe(302);
    await relay.cut();
    const { session } = await second.signUp({
      email: newEmail('orphan'),
      password: GOOD_PASSWORD,
      guestToken: guest,
    });
    if (!session?.member) throw new Error('no member');
    await second.closeAccount({ caller: session.member });

    await relay.start();
    await within(
      10_000,
      async () => (await call(mesh.url, 'GET', `/${made.body.code}`)).status === 404,
    );
    expect(await linksOf(mesh.url, guest)).toEqual([]);
  });
});
