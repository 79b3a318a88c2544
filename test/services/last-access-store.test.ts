// The link store's last-access write on real databases (MariaDB and SQLite):
// many links move in one statement per chunk, only ever forward, and 64-bit
// ids are told apart exactly, also next to 2^53 where a double cannot.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Dialect } from '../../lib/db/migrations.ts';
import { urlHash } from '../../services/link/domain/target-url.ts';
import { LinkRow } from '../../services/link/store/entities.ts';
import { LAST_ACCESS_CHUNK, LinkStore } from '../../services/link/store/link-store.ts';
import { linkSchema } from '../../services/link/store/schema.ts';
import { openTestDatabase, type TestDatabase } from '../support/databases.ts';
import { aLink, freshLinkId, storeLink } from '../support/links.ts';

const DIALECTS: Dialect[] = ['mysql', 'sqlite'];

const T0 = Date.UTC(2026, 10, 30, 12, 0, 0, 0);
const at = (offsetMs: number) => new Date(T0 + offsetMs);

let codes = 0;
const nextCode = () => `la${(codes++).toString(36).padStart(5, '0')}`;

describe.each(DIALECTS)('last access in the link store (%s)', (dialect) => {
  let db: TestDatabase;
  let store: LinkStore;

  beforeAll(async () => {
    db = await openTestDatabase(dialect, linkSchema, 'last_access_store');
    store = new LinkStore(db.orm);
  });
  afterAll(() => db?.close());

  /** Stores a new link (with `id` if given) and returns its id. */
  const newLink = async (id = freshLinkId()) => {
    await storeLink(store, aLink({ code: nextCode(), id }));
    return id;
  };
  const lastAccessOf = async (id: string) =>
    (await db.orm.em.fork().findOneOrFail(LinkRow, { id })).lastAccessedAt ?? null;

  test('when a link never clicked is touched, then its last access is the click time, to the millisecond', async () => {
    const id = await newLink();
    expect(await lastAccessOf(id)).toBeNull();
    expect(await store.moveLastAccess([{ id, at: at(123) }])).toBe(1);
    expect(await lastAccessOf(id)).toEqual(at(123));
  });

  test('when an older click arrives after a newer one, then last access stays at the newer one', async () => {
    const id = await newLink();
    await store.moveLastAccess([{ id, at: at(60_000) }]);
    expect(await store.moveLastAccess([{ id, at: at(1_000) }])).toBe(0);
    expect(await store.moveLastAccess([{ id, at: at(60_000) }])).toBe(0);
    expect(await lastAccessOf(id)).toEqual(at(60_000));
    expect(await store.moveLastAccess([{ id, at: at(60_001) }])).toBe(1);
    expect(await lastAccessOf(id)).toEqual(at(60_001));
  });

  test('when one call holds old and new clicks for several links, an id twice and an unknown id, then each link moves to its latest click only if that is newer', async () => {
    const [older, newer, twice] = [await newLink(), await newLink(), await newLink()];
    await store.moveLastAccess([
      { id: older, at: at(10_000) },
      { id: newer, at: at(10_000) },
    ]);
    const moved = await store.moveLastAccess([
      { id: older, at: at(5_000) },
      { id: newer, at: at(20_000) },
      { id: twice, at: at(30_000) },
      { id: twice, at: at(40_000) },
      { id: twice, at: at(35_000) },
      { id: freshLinkId(), at: at(50_000) },
    ]);
    expect(moved).toBe(2);
    expect(await lastAccessOf(older)).toEqual(at(10_000));
    expect(await lastAccessOf(newer)).toEqual(at(20_000));
    expect(await lastAccessOf(twice)).toEqual(at(40_000));
  });

  test('when ids differ only beyond a double’s precision, then only the touched one moves', async () => {
    // 2^53 and 2^53 + 1 are the same double; 2^63 - 1 is the largest int64.
    const [twoTo53, next, largest] = [
      '9007199254740992',
      '9007199254740993',
      '9223372036854775807',
    ];
    for (const id of [twoTo53, next, largest]) await newLink(id);
    expect(
      await store.moveLastAccess([
        { id: next, at: at(1) },
        { id: largest, at: at(2) },
      ]),
    ).toBe(2);
    expect(await lastAccessOf(twoTo53)).toBeNull();
    expect(await lastAccessOf(next)).toEqual(at(1));
    expect(await lastAccessOf(largest)).toEqual(at(2));
  });

  test(`when more links than one chunk (${LAST_ACCESS_CHUNK}) are touched at once, then every one moves, across the chunk boundaries`, async () => {
    const ids = Array.from({ length: 2 * LAST_ACCESS_CHUNK + 7 }, () => freshLinkId());
    await db.orm.em.fork().insertMany(
      LinkRow,
      ids.map((id) => {
        const link = aLink({ code: nextCode(), id });
        return { ...link, urlHash: urlHash(link.targetUrl), deletedAt: null };
      }),
    );
    const touches = ids.map((id, i) => ({ id, at: at(i) }));
    expect(await store.moveLastAccess(touches)).toBe(ids.length);
    // Again, half older and half newer: only the newer half moves.
    const again = ids.map((id, i) => ({ id, at: at(i % 2 === 0 ? i - 1 : i + 1) }));
    expect(await store.moveLastAccess(again)).toBe(Math.floor(ids.length / 2));
    const rows = await db.orm.em.fork().find(LinkRow, { id: { $in: ids } });
    const stored = new Map(rows.map((row) => [row.id, row.lastAccessedAt?.getTime()]));
    expect(ids.map((id) => stored.get(id))).toEqual(
      ids.map((_, i) => T0 + (i % 2 === 0 ? i : i + 1)),
    );
  });
});
