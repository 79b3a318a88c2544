// Through the whole mesh, on RabbitMQ with MariaDB and Redis and on the
// embedded default: a redirect's click reaches the link service's
// last-access toucher over the bus and moves the link's last access (read
// here from the link database), and only the followed link's.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type Orm, openDatabase } from '../../lib/db/open.ts';
import { LinkRow } from '../../services/link/store/entities.ts';
import { linkSchema } from '../../services/link/store/schema.ts';
import { call, shorten } from '../support/http.ts';
import { testLog } from '../support/logger.ts';
import { MESH_FLAVOURS, meshForSuite } from '../support/mesh.ts';
import { within } from '../support/wait.ts';

describe.each(MESH_FLAVOURS)('last access through the mesh (%s)', (flavour) => {
  // Every newer click is written, so a second redirect shows too.
  const mesh = meshForSuite(flavour, { LINK_LAST_ACCESS_INTERVAL: '0' });
  let orm: Orm;
  let followed: { id: string; code: string };
  let untouched: { id: string; code: string };

  beforeAll(async () => {
    orm = await openDatabase({ url: mesh.linkDatabaseUrl, schema: linkSchema, log: testLog });
    const guest = await call(mesh.url, 'POST', '/api/v1/guests');
    const made = await Promise.all(
      ['followed', 'untouched'].map((name) =>
        shorten(mesh.url, guest.body.token, `https://example.com/last-access/${name}`),
      ),
    );
    const rows = await orm.em.fork().find(LinkRow, { code: { $in: made.map((m) => m.body.code) } });
    const byCode = (code: string) => {
      const row = rows.find((r) => r.code === code);
      if (!row) throw new Error(`no row for ${code}`);
      return { id: row.id, code };
    };
    [followed, untouched] = made.map((m) => byCode(m.body.code)) as [
      typeof followed,
      typeof followed,
    ];
  });
  afterAll(() => orm?.close());

  const lastAccessOf = async (id: string) =>
    (await orm.em.fork().findOneOrFail(LinkRow, { id })).lastAccessedAt?.getTime() ?? null;
  const follow = async (code: string) => {
    const answer = await fetch(`${mesh.url}/${code}`, { redirect: 'manual' });
    await answer.arrayBuffer();
    return answer.status;
  };

  test('when a link is followed, then its last access becomes the time of the redirect, and moves again with the next one', async () => {
    expect(await lastAccessOf(followed.id)).toBeNull();
    const before = Date.now();
    expect(await follow(followed.code)).toBe(302);
    const after = Date.now();
    await within(15_000, async () => (await lastAccessOf(followed.id)) !== null);
    const first = (await lastAccessOf(followed.id)) as number;
    expect(first).toBeGreaterThanOrEqual(before);
    expect(first).toBeLessThanOrEqual(after);

    await new Promise((resolve) => setTimeout(resolve, 20));
    const later = Date.now();
    // Twice more: whether link or the gateway's near cache answers, each is a click.
    expect(await follow(followed.code)).toBe(302);
    expect(await follow(followed.code)).toBe(302);
    await within(15_000, async () => ((await lastAccessOf(followed.id)) ?? 0) >= later);
    expect(await lastAccessOf(followed.id)).toBeLessThanOrEqual(Date.now());
    expect(await lastAccessOf(untouched.id)).toBeNull();
  });
});
