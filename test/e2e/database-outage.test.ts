// The link database out of reach while redirects keep coming: a redirect whose
// lookup needed the database answers 503 naming the cause the link service
// gave (database_unavailable), ResolveLink says the same in its trailer, and
// both recover on their own once the database is reachable again.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { LinkServiceClient, LinkServiceService } from '../../gen/shortener/v1/link.ts';
import { dialable } from '../../lib/config/parsers.ts';
import { connect, promiseClient } from '../../lib/grpc/client.ts';
import { dropDatabases } from '../support/databases.ts';
import { MYSQL_URL, uniqueName } from '../support/env.ts';
import { call, newGuest, shorten } from '../support/http.ts';
import { startTestMesh, type TestMesh } from '../support/mesh.ts';
import { TcpRelay } from '../support/tcp-relay.ts';
import { within } from '../support/wait.ts';

const database = uniqueName('outage_link');
let relay: TcpRelay;
let mesh: TestMesh;
let link: LinkServiceClient;

beforeAll(async () => {
  const target = new URL(MYSQL_URL);
  relay = new TcpRelay(target.hostname, Number(target.port || 3306));
  await relay.start();
  const url = new URL(MYSQL_URL);
  url.host = `127.0.0.1:${relay.port}`;
  // No near cache: every redirect crosses to the link service.
  mesh = await startTestMesh('mysql+redis', {
    LINK_DATABASE_URL: `${url.href.replace(/\/$/, '')}/${database}`,
    NEAR_CACHE_SIZE: '0',
  });
  link = connect(LinkServiceClient, dialable(mesh.mesh.link.address), 2_000);
});
afterAll(async () => {
  link?.close();
  await relay?.start().catch(() => {});
  await mesh?.stop();
  await relay?.cut();
  await dropDatabases([database]);
});

test('when the link database is unreachable, then a redirect that needs it answers 503 database_unavailable, and recovers', async () => {
  const token = await newGuest(mesh.url);
  const cached = await shorten(mesh.url, token, 'https://example.com/outage/cached');
  expect(cached.status).toBe(201);

  await relay.cut();
  // A code nobody asked for yet is in no cache: only the database can answer it.
  const down = await call(mesh.url, 'GET', '/NeverSeen1');
  expect(down.status).toBe(503);
  expect(down.headers.get('content-type')).toContain('application/problem+json');
  expect(down.headers.get('retry-after')).toBe('1');
  expect(down.body.code).toBe('database_unavailable');
  expect(down.body.type).toBe('/problems/database_unavailable');
  // The link service's single-code RPC names the same cause.
  await expect(
    promiseClient(link, LinkServiceService).resolveLink({ code: 'NeverSeen2' }),
  ).rejects.toMatchObject({ kind: 'unavailable', code: 'database_unavailable' });
  // What the shared cache knows still redirects.
  expect((await call(mesh.url, 'GET', `/${cached.body.code}`)).status).toBe(302);

  await relay.start();
  await within(10_000, async () => (await call(mesh.url, 'GET', '/NeverSeen3')).status === 404);
  const gone = await call(mesh.url, 'GET', '/NeverSeen1');
  expect(gone.status).toBe(404);
  expect(gone.body.code).toBe('link_not_found');
});
