// Caches make redirects fast and must never make them wrong: a hot link is
// answered from the caches, and a deleted one stops redirecting on every
// gateway within one second, whichever link instance took the delete.
import Database from 'better-sqlite3';
import { createConnection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type RunningGateway, startGateway } from '../../gateway/main.ts';
import { dialable } from '../../lib/config/parsers.ts';
import { type RunningService, startService } from '../../lib/service.ts';
import { redisSharedState, type SharedState } from '../../lib/shared-state.ts';
import { linkService } from '../../services/link/main.ts';
import { linkClientForTest } from '../support/grpc.ts';
import { call, newGuest, shorten } from '../support/http.ts';
import { testObservers } from '../support/infrastructure.ts';
import { testLog } from '../support/logger.ts';
import { MESH_FLAVOURS, meshForSuite, type SuiteMesh } from '../support/mesh.ts';
import { within } from '../support/wait.ts';

/** Runs SQL against the link database behind the service's back. */
async function sql(mesh: SuiteMesh, statement: string, params: (string | number)[]): Promise<void> {
  const url = mesh.linkDatabaseUrl;
  if (url.startsWith('sqlite:')) {
    const db = new Database(url.slice('sqlite:'.length));
    db.prepare(statement).run(...params);
    db.close();
    return;
  }
  const connection = await createConnection({ uri: url });
  await connection.execute(statement, params);
  await connection.end();
}

describe.each(MESH_FLAVOURS)('caches and invalidation (%s)', (flavour) => {
  const mesh = meshForSuite(flavour);
  let token: string;
  let secondShared: SharedState;
  let secondLink: RunningService;
  let secondGateway: RunningGateway;

  beforeAll(async () => {
    token = await newGuest(mesh.url);
    // A second link instance and a second gateway in front of it: the way
    // replicas run, sharing the database and (on Redis) the shared state.
    secondShared =
      flavour === 'embedded'
        ? mesh.mesh.shared
        : await redisSharedState({
            url: mesh.config.redisUrl,
            keyPrefix: mesh.config.redisKeyPrefix,
            log: testLog,
            name: 'second',
          });
    secondLink = await startService(linkService, mesh.config.link, mesh.config, testLog, {
      shared: secondShared,
      bus: mesh.mesh.bus,
      ...testObservers(mesh.mesh.bus),
    });
    secondGateway = await startGateway(
      { ...mesh.config.gateway, linkTarget: dialable(secondLink.address) },
      mesh.config,
      testLog,
      { shared: secondShared, bus: mesh.mesh.bus, ...testObservers(mesh.mesh.bus) },
    );
    await within(5_000, async () => mesh.mesh.gateway.near.live && secondGateway.near.live);
  });
  afterAll(async () => {
    await secondGateway?.stop();
    await secondLink?.stop();
    if (flavour !== 'embedded') await secondShared?.close();
  });

  test('when a link was resolved once, then the link service answers it from the cache', async () => {
    const created = await shorten(mesh.url, token, 'https://example.com/cached');
    const client = linkClientForTest(mesh.mesh.link.address);
    expect((await client.resolveLink({ code: created.body.code })).targetUrl).toBe(
      'https://example.com/cached',
    );
    // The row changes behind the service's back; the cached resolution still answers.
    await sql(mesh, 'update links set target_url = ? where code = ?', [
      'https://example.com/changed',
      created.body.code,
    ]);
    expect((await client.resolveLink({ code: created.body.code })).targetUrl).toBe(
      'https://example.com/cached',
    );
  });

  test('when an unknown code was asked for, then the next asks are answered from the negative cache', async () => {
    const client = linkClientForTest(mesh.mesh.link.address);
    await expect(client.resolveLink({ code: 'Neg4tiv' })).rejects.toMatchObject({
      kind: 'not_found',
    });
    await sql(
      mesh,
      'insert into links (id, code, target_url, owner_id, created_at) values (?, ?, ?, ?, ?)',
      [
        '123456789012345678',
        'Neg4tiv',
        'https://example.com/sneaked-in',
        '1',
        '2026-01-01 00:00:00',
      ],
    );
    await expect(client.resolveLink({ code: 'Neg4tiv' })).rejects.toMatchObject({
      kind: 'not_found',
    });
  });

  test('when a hot link is redirected, then the gateway answers it from its near cache', async () => {
    const created = await shorten(mesh.url, token, 'https://example.com/hot');
    expect((await call(mesh.url, 'GET', `/${created.body.code}`)).status).toBe(302);
    expect(mesh.mesh.gateway.near.get(created.body.code)?.targetUrl).toBe(
      'https://example.com/hot',
    );
  });

  test('when a link is deleted through one gateway, then it stops redirecting on every gateway within one second', async () => {
    const created = await shorten(mesh.url, token, 'https://example.com/to-delete');
    const code = created.body.code as string;
    // Hot everywhere: both near caches, both link instances, the shared cache.
    for (const gateway of [mesh.url, secondGateway.url]) {
      for (let i = 0; i < 3; i++) expect((await call(gateway, 'GET', `/${code}`)).status).toBe(302);
    }
    expect(secondGateway.near.get(code)).toBeDefined();

    expect((await call(mesh.url, 'DELETE', `/api/v1/links/${code}`, { token })).status).toBe(204);
    const elapsed = await Promise.all(
      [mesh.url, secondGateway.url].map((gateway) =>
        within(1_000, async () => (await call(gateway, 'GET', `/${code}`)).status === 404),
      ),
    );
    for (const ms of elapsed) expect(ms).toBeLessThanOrEqual(1_000);
    // And it stays gone on every path: HEAD, the second link instance directly.
    expect((await call(secondGateway.url, 'HEAD', `/${code}`)).status).toBe(404);
    const direct = linkClientForTest(secondLink.address);
    await expect(direct.resolveLink({ code })).rejects.toMatchObject({ kind: 'not_found' });
  });

  test('when a link is deleted, then its code is never issued again', async () => {
    const created = await shorten(mesh.url, token, 'https://example.com/tombstone');
    const code = created.body.code as string;
    expect((await call(mesh.url, 'DELETE', `/api/v1/links/${code}`, { token })).status).toBe(204);
    // The tombstone keeps the code taken: storing any link under it fails.
    await expect(
      sql(
        mesh,
        'insert into links (id, code, target_url, owner_id, created_at) values (?, ?, ?, ?, ?)',
        ['123456789012345679', code, 'https://example.com/reuse', '1', '2026-01-01 00:00:00'],
      ),
    ).rejects.toThrow(/duplicate|unique/i);
    // Shortening the same URL again gives a new code.
    const again = await shorten(mesh.url, token, 'https://example.com/tombstone');
    expect(again.status).toBe(201);
    expect(again.body.code).not.toBe(code);
  });
});
